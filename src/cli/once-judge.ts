import { SourceRevisionAnnotation } from '../api/source-annotations.ts';
import { Conditions, Reasons } from '../api/conditions.ts';
import type { Condition, KObject, ObjectRef } from '../api/meta.ts';
import { refOf, refString } from '../api/meta.ts';
import type { ReconcileFinished } from '../runtime/controller.ts';
import { isSuspended } from '../runtime/reconciler.ts';
import { jsonEqual } from '../store/canonical-json.ts';
import type { Store } from '../store/store.ts';
import { describeReady } from './progress-reporter.ts';
import { mark } from './output/style.ts';
import { describeKind } from './resource-types.ts';

/** `ready`: Ready at what it should run now; `failed`: its attempt at that failed; `pending`: not judged yet. */
export type Verdict = 'ready' | 'failed' | 'pending';

/** One object's verdict and the line `kedge up --once` prints for it. */
export interface Judged {
  object: KObject;
  verdict: Verdict;
  line: string;
}

/** One judging pass: the store and the verdicts reached so far, by ref. */
interface Seen {
  store: Store;
  judged: Map<string, Promise<Judged | undefined>>;
}

type Status = {
  conditions?: Condition[];
  observedGeneration?: number;
  lastAttemptedRevision?: string;
  currentRevision?: string;
};

const statusOf = (o: KObject): Status => o.status ?? {};
const conditionOf = (o: KObject, type: string): Condition | undefined =>
  statusOf(o).conditions?.find((c) => c.type === type);

/**
 * Judges objects for `kedge up --once` from the reconciles this engine finished (fed by `record`), never from
 * status a previous engine left: an object is judged only on a reconcile of this engine that began at its
 * current desired state (generation and annotations, so an App's release revision too), and a Kustomization
 * only once it attempted its source's current artifact revision, the source itself being judged. Then Ready
 * at the current generation is `ready`; Stalled, or not Ready and retrying, is `failed`; waiting (dependencies,
 * a rollout in progress) stays `pending`. Suspended objects are not reconciled and are judged as they stand.
 */
export class OnceJudge {
  readonly #finished = new Map<string, ReconcileFinished>();

  /** Remember the latest finished reconcile of its object. */
  record(finished: ReconcileFinished): void {
    this.#finished.set(refString(finished.ref), finished);
  }

  /** The verdict on each object, as they are in `store` now. */
  async judge(store: Store, objects: readonly KObject[]): Promise<Judged[]> {
    const seen: Seen = { store, judged: new Map() };
    for (const object of objects) {
      const key = refString(refOf(object));
      if (!seen.judged.has(key)) seen.judged.set(key, this.#judge(object, seen));
    }
    return Promise.all(objects.map(async (o) => (await seen.judged.get(refString(refOf(o))))!));
  }

  async #judgeRef(ref: ObjectRef, seen: Seen): Promise<Judged | undefined> {
    const key = refString(ref);
    let judged = seen.judged.get(key);
    if (!judged) {
      judged = seen.store.get(ref).then((o) => (o ? this.#judge(o, seen) : undefined));
      seen.judged.set(key, judged);
    }
    return judged;
  }

  async #judge(current: KObject, seen: Seen): Promise<Judged> {
    const key = refString(refOf(current));
    if (isSuspended(current)) return byStatus(current);
    const finished = this.#finished.get(key);
    const waiting = (why: string): Judged => ({
      object: current,
      verdict: 'pending',
      line: mark.waiting(`${nameOf(current)}: ${why}`),
    });
    if (!finished?.after || !sameDesiredState(finished.before, current))
      return waiting('waiting to be reconciled');
    const after = finished.after;
    if (conditionOf(after, Conditions.Ready)?.reason === Reasons.DependencyNotReady) {
      // Blocked before reading its source: judged by its dependencies, not by a revision it never got to.
      const blocked = byStatus(after);
      if (blocked.verdict !== 'pending') return blocked;
      const failed = await this.#failedDependency(current, seen.store);
      if (!failed) return blocked;
      return {
        object: after,
        verdict: 'failed',
        line: mark.failure(`${nameOf(current)}: its dependency ${failed} failed`),
      };
    }
    if (current.kind === 'Kustomization') {
      const sourceRef = (
        current.spec as { sourceRef?: { kind: string; name: string; namespace?: string } } | undefined
      )?.sourceRef;
      if (sourceRef) {
        const ref = {
          kind: sourceRef.kind,
          namespace: sourceRef.namespace ?? current.metadata.namespace ?? 'default',
          name: sourceRef.name,
        };
        const source = await this.#judgeRef(ref, seen);
        const revision = (source?.object.status as { artifact?: { revision?: string } } | undefined)?.artifact
          ?.revision;
        if (source?.verdict === 'pending') return waiting(`waiting for its source ${nameOf(source.object)}`);
        if (source && revision && statusOf(after).lastAttemptedRevision !== revision)
          return waiting(`waiting to be reconciled at revision '${revision}'`);
        if (source?.verdict === 'failed' && !revision)
          return {
            object: after,
            verdict: 'failed',
            line: mark.failure(`${nameOf(current)}: its source ${nameOf(source.object)} has no artifact`),
          };
      }
    }
    const judged = byStatus(after);
    if (judged.verdict === 'ready' && current.kind === 'App') {
      const revision = current.metadata.annotations?.[SourceRevisionAnnotation];
      if (revision && statusOf(after).currentRevision !== revision)
        return waiting(`rolling out revision '${revision}'`);
    }
    return judged;
  }

  /** A `dependsOn` Kustomization whose latest reconcile in this run, at its current state, failed. */
  async #failedDependency(object: KObject, store: Store): Promise<string | undefined> {
    const dependsOn =
      (object.spec as { dependsOn?: Array<{ name: string; namespace?: string }> } | undefined)?.dependsOn ??
      [];
    for (const dep of dependsOn) {
      const ref = {
        kind: object.kind,
        namespace: dep.namespace ?? object.metadata.namespace ?? 'default',
        name: dep.name,
      };
      const finished = this.#finished.get(refString(ref));
      const current = await store.get(ref);
      if (!current || !finished?.after || !sameDesiredState(finished.before, current)) continue;
      if (byStatus(finished.after).verdict === 'failed') return nameOf(current);
    }
    return undefined;
  }
}

/** Whether a reconcile that began with `before` worked on what `current` asks for. */
function sameDesiredState(before: KObject, current: KObject): boolean {
  return (
    before.metadata.generation === current.metadata.generation &&
    jsonEqual(before.metadata.annotations ?? {}, current.metadata.annotations ?? {})
  );
}

/** The verdict an object's own status gives. */
function byStatus(object: KObject): Judged {
  const ready = conditionOf(object, Conditions.Ready);
  const line = describeReady(object);
  if (conditionOf(object, Conditions.Stalled)?.status === 'True') return { object, verdict: 'failed', line };
  if (ready?.status === 'True' && statusOf(object).observedGeneration === object.metadata.generation)
    return { object, verdict: 'ready', line };
  const retrying = conditionOf(object, Conditions.Reconciling)?.reason !== Reasons.Progressing;
  if (ready?.status === 'False' && retrying) return { object, verdict: 'failed', line };
  if (isSuspended(object))
    return { object, verdict: 'failed', line: mark.failure(`${nameOf(object)}: suspended and not Ready`) };
  return { object, verdict: 'pending', line };
}

function nameOf(object: KObject): string {
  return `${describeKind(object.kind)} ${object.metadata.namespace}/${object.metadata.name}`;
}
