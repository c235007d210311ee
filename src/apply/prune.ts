import { isNotFound } from './errors.ts';
import { entryIdentity, type InventoryEntry } from './inventory.ts';
import { compareApplyOrder } from './kind-order.ts';
import type { KubeTarget } from './kube-client.ts';
import { objectLabel } from './object-id.ts';
import { isOwnedBy, type Owner } from './owner-labels.ts';
import { pruneDisabled } from './ssa-annotations.ts';

/** What a prune (or a delete of a whole inventory) did, entry by entry. */
export interface PruneResult {
  /** Deleted now, or already gone. */
  deleted: InventoryEntry[];
  /** Left in place on purpose: `prune: disabled`, or no longer carrying this owner's labels. */
  skipped: { entry: InventoryEntry; reason: string }[];
  /** Deleting failed: keep these in the inventory and retry next time. */
  failed: { entry: InventoryEntry; error: string }[];
}

export interface PruneOptions {
  owner: Owner;
  signal?: AbortSignal;
}

/**
 * Deletes the objects of `entries` in reverse apply order (instances before their CRD, namespaced objects
 * before their Namespace), with background propagation. An object is deleted only while it still carries the
 * owner's labels and is not annotated `kustomize.toolkit.fluxcd.io/prune: disabled`. Never throws for one
 * object: failures are returned so the caller keeps them in the inventory.
 */
export async function pruneEntries(target: KubeTarget, entries: readonly InventoryEntry[], options: PruneOptions): Promise<PruneResult> {
  const result: PruneResult = { deleted: [], skipped: [], failed: [] };
  const ordered = entries
    .map((entry) => ({ entry, ref: entryIdentity(entry) }))
    .sort((a, b) => compareApplyOrder(asObject(b.ref), asObject(a.ref)));
  for (const { entry, ref } of ordered) {
    options.signal?.throwIfAborted();
    try {
      const path = await target.discovery.pathFor(ref.apiVersion, ref.kind, ref.namespace, ref.name);
      const live = await target.rest.request<{ metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> } }>('GET', path);
      if (pruneDisabled(live)) result.skipped.push({ entry, reason: 'prune disabled' });
      else if (!isOwnedBy(live, options.owner)) result.skipped.push({ entry, reason: 'owner labels removed' });
      else {
        await target.rest.request('DELETE', path, { body: { propagationPolicy: 'Background' }, signal: options.signal });
        result.deleted.push(entry);
      }
    } catch (error) {
      if (isNotFound(error) || (error as Error).name === 'UnknownKindError') result.deleted.push(entry);
      else result.failed.push({ entry, error: `${objectLabel(ref)} deletion failed: ${(error as Error).message}` });
    }
  }
  return result;
}

function asObject(ref: { apiVersion: string; kind: string; namespace: string; name: string }) {
  return { apiVersion: ref.apiVersion, kind: ref.kind, metadata: { name: ref.name, namespace: ref.namespace } };
}

/** Flux's `spec.deletionPolicy`. */
export type DeletionPolicy = 'MirrorPrune' | 'Delete' | 'WaitForTermination' | 'Orphan';

/**
 * Whether deleting the Kustomization deletes its inventory: `MirrorPrune` follows `spec.prune`, `Delete` and
 * `WaitForTermination` always do, `Orphan` never does. The caller then uses `pruneEntries` on the whole inventory.
 */
export function deletesInventory(policy: DeletionPolicy | undefined, prune: boolean): boolean {
  switch (policy ?? 'MirrorPrune') {
    case 'MirrorPrune':
      return prune;
    case 'Orphan':
      return false;
    default:
      return true;
  }
}
