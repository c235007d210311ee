import { RollbackAnnotation, rollbackHoldOf, type RollbackHold } from '../api/history.ts';
import type { KObject, ObjectRef } from '../api/meta.ts';
import { SourceArtifactAnnotation, SourceRevisionAnnotation } from '../api/source-annotations.ts';
import { ConflictError, type Store } from '../store/store.ts';
import { chooseRollbackTarget, RollbackError, type RollbackChoice } from './rollback-target.ts';

export { RollbackError, type RollbackChoice };

export interface RollbackRequest extends RollbackChoice {
  /** Kustomization only: release the hold by itself once the source has a newer revision. */
  autoRelease?: boolean;
}

/** What a rollback did: the hold written, and the revisions it is between. */
export interface RollbackOutcome {
  hold: RollbackHold;
  /** The revision applied before the rollback. */
  from: string | undefined;
}

/**
 * Holds a Kustomization or an App at an earlier revision from its history: writes the `kedge.dev/rollback`
 * annotation (JSON of {@link RollbackHold}), which the object's controller obeys until it is removed. The same
 * code path for the CLI and the dashboard; it only touches the store, so it works in both modes and whether or
 * not an engine runs (the engine acts on it when it sees the change, or at its start).
 */
export async function rollback(
  store: Store,
  ref: ObjectRef,
  request: RollbackRequest,
): Promise<RollbackOutcome> {
  const object = await store.get(ref);
  const what = `${ref.kind} '${ref.namespace}/${ref.name}'`;
  if (!object) throw new RollbackError(`${what} not found`);
  if (ref.kind !== 'Kustomization' && ref.kind !== 'App')
    throw new RollbackError(`${ref.kind} cannot be rolled back: only Kustomizations and Apps keep a history`);
  if (request.autoRelease && ref.kind === 'App')
    throw new RollbackError(
      `--auto-release is for Kustomizations: an App's hold ends with --release or a rollback of its Kustomization`,
    );
  const current = appliedRevision(object);
  const target = chooseRollbackTarget(await store.listHistory(ref), current, request, what);
  const hold: RollbackHold = {
    revision: target.revision,
    artifact: target.artifact!,
    sourceRevision: (await sourceRevision(store, object)) ?? current ?? target.revision,
    requestedAt: new Date().toISOString(),
    ...(request.autoRelease ? { autoRelease: true } : {}),
    ...(target.releaseKey ? { releaseKey: target.releaseKey } : {}),
  };
  await writeHold(store, ref, hold);
  return { hold, from: current };
}

/** Ends a hold: removes the annotation, so the object follows its source again. False when it was not held. */
export async function releaseRollback(store: Store, ref: ObjectRef): Promise<boolean> {
  const object = await store.get(ref);
  if (!object) throw new RollbackError(`${ref.kind} '${ref.namespace}/${ref.name}' not found`);
  if (object.metadata.annotations?.[RollbackAnnotation] === undefined) return false;
  await writeHold(store, ref, undefined);
  return true;
}

/** The hold an object carries now, if any. */
export function currentHold(object: KObject): RollbackHold | undefined {
  return rollbackHoldOf(object.metadata.annotations);
}

/** Sets or removes the annotation, reading again on a conflict with another writer. */
export async function writeHold(
  store: Store,
  ref: ObjectRef,
  hold: RollbackHold | undefined,
): Promise<KObject> {
  for (let attempt = 1; ; attempt++) {
    const object = await store.get(ref);
    if (!object) throw new RollbackError(`${ref.kind} '${ref.namespace}/${ref.name}' not found`);
    const annotations = { ...object.metadata.annotations };
    if (hold) annotations[RollbackAnnotation] = JSON.stringify(hold);
    else delete annotations[RollbackAnnotation];
    object.metadata.annotations = annotations;
    try {
      return await store.update(object);
    } catch (error) {
      if (!(error instanceof ConflictError) || attempt >= 5) throw error;
    }
  }
}

/** The revision the object runs now: a Kustomization's last applied one, an App's rolled-out one. */
function appliedRevision(object: KObject): string | undefined {
  const status = object.status as { lastAppliedRevision?: string; currentRevision?: string } | undefined;
  return object.kind === 'App' ? status?.currentRevision : status?.lastAppliedRevision;
}

/** Where the source is now: a Kustomization's source artifact revision, the revision an App was given. */
async function sourceRevision(store: Store, object: KObject): Promise<string | undefined> {
  if (object.kind === 'App') {
    const annotations = object.metadata.annotations ?? {};
    return annotations[SourceArtifactAnnotation] ? annotations[SourceRevisionAnnotation] : undefined;
  }
  const sourceRef = (
    object.spec as { sourceRef?: { kind: string; name: string; namespace?: string } } | undefined
  )?.sourceRef;
  if (!sourceRef) return undefined;
  const source = await store.get({
    kind: sourceRef.kind,
    namespace: sourceRef.namespace ?? object.metadata.namespace ?? 'default',
    name: sourceRef.name,
  });
  return (source?.status as { artifact?: { revision?: string } } | undefined)?.artifact?.revision;
}
