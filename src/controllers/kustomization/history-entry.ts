import { createHash } from 'node:crypto';
import type { HistoryEntry } from '../../api/history.ts';
import type { InventoryEntry } from '../../api/kustomization.ts';
import { inventoryDiffOf, type SubjectChange } from '../../history/record-history.ts';
import type { ArtifactRef } from './artifact-fetch.ts';

/** What a finished Kustomization reconcile reports to its history. */
export interface FinishedReconcile {
  started: number;
  artifact: ArtifactRef;
  changes: readonly SubjectChange[];
  ready: { status: string; reason: string; message: string };
  rolledBack: boolean;
}

/** The history entry of a finished reconcile. */
export function historyEntryOf(done: FinishedReconcile): HistoryEntry {
  const { path, url, digest, revision } = done.artifact;
  return {
    time: new Date(done.started).toISOString(),
    durationMs: Date.now() - done.started,
    revision,
    digest,
    artifact: { path, url, digest, revision },
    result: done.ready.status === 'True' ? 'Succeeded' : 'Failed',
    reason: done.ready.reason,
    message: done.ready.message,
    changes: inventoryDiffOf(done.changes),
    ...(done.rolledBack ? { rolledBack: true } : {}),
  };
}

/** Flux's snapshot digest: what was reconciled, the revision and the inventory. */
export function snapshotDigest(revision: string, inventory: readonly InventoryEntry[] | undefined): string {
  const text = [revision, ...(inventory ?? []).map((e) => `${e.id} ${e.v}`)].join('\n');
  return `sha256:${createHash('sha256').update(text).digest('hex')}`;
}
