import { rollbackHoldOf, RolledBackCondition, type RollbackHold } from '../api/history.ts';
import type { Condition, KObject } from '../api/meta.ts';
import type { ConditionSet } from '../runtime/conditions.ts';
import type { EventRecorder } from '../runtime/event-recorder.ts';
import { writeHold } from '../rollback/rollback.ts';
import type { Store } from '../store/store.ts';
import type { ArtifactRef } from './kustomization/artifact-fetch.ts';

/** A rollback hold in force for this reconcile: apply `hold.artifact`, while the source is at `sourceRevision`. */
export interface HeldRevision {
  hold: RollbackHold;
  sourceRevision: string;
}

/** Reason of the RolledBack condition and of the hold's events. */
export const RollbackReasons = {
  Held: 'RollbackHeld',
  RolledBack: 'RolledBack',
  Released: 'RollbackReleased',
} as const;

/**
 * The hold this reconcile obeys. With `autoRelease`, a source that moved past the revision it was at when the
 * rollback was requested ends the hold here (the annotation is removed): returns `released` and no hold.
 */
export async function resolveHold(
  store: Store,
  object: KObject,
  source: ArtifactRef | undefined,
): Promise<{ held?: HeldRevision; released?: string }> {
  const hold = rollbackHoldOf(object.metadata.annotations);
  if (!hold) return {};
  const sourceRevision = source?.revision ?? hold.sourceRevision;
  if (hold.autoRelease && sourceRevision !== hold.sourceRevision) {
    const ref = {
      kind: object.kind,
      namespace: object.metadata.namespace ?? 'default',
      name: object.metadata.name,
    };
    await writeHold(store, ref, undefined);
    return { released: `source moved to ${sourceRevision}: rollback to ${hold.revision} released` };
  }
  return { held: { hold, sourceRevision } };
}

/** The artifact a hold applies, as the controller fetches artifacts. */
export function heldArtifact(held: HeldRevision): ArtifactRef {
  const { path, url, digest, revision } = held.hold.artifact;
  return { path, url, digest, revision };
}

/** RolledBack=True "held at X, source is at Y" while held; the condition goes with the hold. */
export function markHold(conditions: ConditionSet, held: HeldRevision | undefined, command: string): void {
  if (!held) {
    conditions.delete(RolledBackCondition);
    return;
  }
  const release = held.hold.autoRelease
    ? 'released when a newer revision lands'
    : `release with '${command} --release'`;
  conditions.mark(
    RolledBackCondition,
    'True',
    RollbackReasons.Held,
    `held at ${held.hold.revision}, source is at ${held.sourceRevision}; ${release}`,
  );
}

/** One event when a hold starts (or moves to another revision) and one when it ends. */
export async function recordHoldEvents(
  events: EventRecorder,
  object: KObject,
  before: Condition | undefined,
  change: { held?: HeldRevision; released?: string },
  controller: string,
): Promise<void> {
  const wasHeldAt = before?.status === 'True' ? /^held at (\S+),/.exec(before.message)?.[1] : undefined;
  if (change.held && wasHeldAt !== change.held.hold.revision) {
    const { revision } = change.held.hold;
    await events.record(
      object,
      'Normal',
      RollbackReasons.RolledBack,
      `rolled back to ${revision}, held there while the source is at ${change.held.sourceRevision}`,
      { controller, annotations: { 'kustomize.toolkit.fluxcd.io/revision': revision } },
    );
  } else if (!change.held && wasHeldAt !== undefined) {
    await events.record(
      object,
      'Normal',
      RollbackReasons.Released,
      change.released ?? `rollback to ${wasHeldAt} released: following the source again`,
      { controller },
    );
  }
}
