import type { ChangeSetEntry } from './apply-manager.ts';
import { parseObjectId, type ObjectIdentity } from './object-id.ts';

/** One object in Flux's `status.inventory.entries`: id `<ns>_<name>_<group>_<Kind>` and version `v`. */
export interface InventoryEntry {
  id: string;
  v: string;
}

/** Flux's `status.inventory`, written unchanged so `flux` tooling reads it. */
export interface ResourceInventory {
  entries: InventoryEntry[];
}

/** The inventory of an applied set: every entry of the change set (skipped objects included), in apply order. */
export function inventoryFromChangeSet(changeSet: readonly ChangeSetEntry[]): ResourceInventory {
  const seen = new Set<string>();
  const entries: InventoryEntry[] = [];
  for (const e of changeSet) {
    if (seen.has(e.id)) continue;
    seen.add(e.id);
    entries.push({ id: e.id, v: e.version });
  }
  return { entries };
}

/**
 * Entries of `previous` whose object is not in `next` (compared by id; a version change is not a removal):
 * what pruning deletes. Undefined inventories count as empty.
 */
export function staleEntries(previous: ResourceInventory | undefined, next: ResourceInventory | undefined): InventoryEntry[] {
  const keep = new Set((next?.entries ?? []).map((e) => e.id));
  return (previous?.entries ?? []).filter((e) => !keep.has(e.id));
}

/** The object an entry names (apiVersion rebuilt from its group and `v`). */
export function entryIdentity(entry: InventoryEntry): ObjectIdentity {
  const { namespace, name, group, kind } = parseObjectId(entry.id);
  return { apiVersion: group ? `${group}/${entry.v}` : entry.v, kind, namespace, name };
}
