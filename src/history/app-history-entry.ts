import type { HistoryEntry } from '../api/history.ts';
import type { Condition, ObjectRef } from '../api/meta.ts';

/** What a finished App rollout reports to its history. */
export interface FinishedRollout {
  ref: ObjectRef;
  revision: string;
  /** The artifact path the release came from (relative to the artifact storage root). */
  artifactPath: string;
  release: { key: string; digest: string };
  /** Reconciling as the rollout found it: its transition time is when the rollout began. */
  reconciling: Condition | undefined;
  result: 'Succeeded' | 'Failed';
  reason: string;
  message: string;
  rolledBack: boolean;
}

/** The history entry of an App rollout that ended (rolled out, or out of time); the App itself was configured. */
export function appHistoryEntryOf(done: FinishedRollout): HistoryEntry {
  const began = done.reconciling?.status === 'True' ? Date.parse(done.reconciling.lastTransitionTime) : NaN;
  const now = Date.now();
  return {
    time: new Date(Number.isNaN(began) ? now : began).toISOString(),
    durationMs: Number.isNaN(began) ? 0 : Math.max(0, now - began),
    revision: done.revision,
    digest: done.release.digest,
    artifact: { path: done.artifactPath, url: '', digest: done.release.digest, revision: done.revision },
    result: done.result,
    reason: done.reason,
    message: done.message,
    changes: { created: [], configured: [`App/${done.ref.namespace}/${done.ref.name}`], deleted: [] },
    releaseKey: done.release.key,
    ...(done.rolledBack ? { rolledBack: true } : {}),
  };
}
