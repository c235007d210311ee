import type { HistoryEntry, InventoryDiff } from '../api/history.ts';
import type { ObjectRef } from '../api/meta.ts';
import type { Store } from '../store/store.ts';

/** A change as a reconcile reports it (Flux's change set): `Kind/namespace/name` and what happened. */
export interface SubjectChange {
  subject: string;
  action: string;
}

/** Created, configured and deleted subjects of a change set (unchanged and skipped ones are left out). */
export function inventoryDiffOf(changes: readonly SubjectChange[]): InventoryDiff {
  const diff: InventoryDiff = { created: [], configured: [], deleted: [] };
  for (const change of changes) {
    if (change.action === 'created' || change.action === 'configured' || change.action === 'deleted')
      diff[change.action].push(change.subject);
  }
  return diff;
}

/** Whether an entry is worth keeping after `previous`: it changed objects, or revision, result or hold differ. */
export function changedSomething(entry: HistoryEntry, previous: HistoryEntry | undefined): boolean {
  const { created, configured, deleted } = entry.changes;
  if (created.length + configured.length + deleted.length > 0) return true;
  if (!previous) return true;
  return (
    previous.revision !== entry.revision ||
    previous.result !== entry.result ||
    previous.reason !== entry.reason ||
    Boolean(previous.rolledBack) !== Boolean(entry.rolledBack) ||
    previous.releaseKey !== entry.releaseKey
  );
}

/**
 * Appends `entry` to the object's history when it changed something compared with the newest entry, keeping
 * the newest `limit`. Returns whether it was recorded.
 */
export async function recordHistory(
  store: Store,
  ref: ObjectRef,
  entry: HistoryEntry,
  limit: number,
): Promise<boolean> {
  const [previous] = await store.listHistory(ref, 1);
  if (!changedSomething(entry, previous)) return false;
  await store.appendHistory(ref, entry, limit);
  return true;
}
