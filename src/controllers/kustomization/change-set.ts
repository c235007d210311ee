import type { InventoryEntry } from '../../api/kustomization.ts';
import { objectId, objectLabel, versionOf, type ObjectIdentity } from '../../apply/object-id.ts';

/** What one apply or prune did to one object, as Flux's change set records it. */
export type ChangeAction = 'created' | 'configured' | 'unchanged' | 'deleted' | 'skipped';

export interface ChangeEntry {
  /** `Kind/namespace/name`, or `Kind/name` for cluster-scoped objects. */
  subject: string;
  action: ChangeAction;
}

/** The change entry of an object. */
export function changeOf(identity: ObjectIdentity, action: ChangeAction): ChangeEntry {
  return { subject: objectLabel(identity), action };
}

/** The inventory entry of an object: Flux's id and the object's API version. */
export function inventoryEntryOf(identity: ObjectIdentity): InventoryEntry {
  return { id: objectId(identity), v: versionOf(identity.apiVersion) };
}

/**
 * Flux's event text for a change set: one `Subject action` line per object that was created, configured or
 * deleted (unchanged and skipped objects are left out). Empty when nothing changed.
 */
export function formatChangeSet(entries: readonly ChangeEntry[]): string {
  return entries
    .filter((e) => e.action === 'created' || e.action === 'configured' || e.action === 'deleted')
    .map((e) => `${e.subject} ${e.action}`)
    .join('\n');
}
