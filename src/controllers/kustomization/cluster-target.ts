import type { InventoryEntry } from '../../api/kustomization.ts';
import type { KObject } from '../../api/meta.ts';
import { ApplyManager, type ApplyOptions } from '../../apply/apply-manager.ts';
import type { KubeTarget } from '../../apply/kube-client.ts';
import { parseObjectId, type KubeObject, type ObjectIdentity } from '../../apply/object-id.ts';
import type { Owner } from '../../apply/owner-labels.ts';
import { pruneEntries } from '../../apply/prune.ts';
import { changeOf, type ChangeEntry } from './change-set.ts';

/** The result of applying to the cluster: changes, inventory, and the identities applied (for health). */
export interface ClusterApplyResult {
  changes: ChangeEntry[];
  inventory: InventoryEntry[];
  applied: ObjectIdentity[];
}

/**
 * Server-side apply of rendered objects in Flux's stages, through the apply library. `watched` (the drift
 * watch's live state, only for the manifests last applied) spares the read and dry-run of objects in sync;
 * `beforeWrite` records the objects about to be written in the inventory first.
 */
export async function applyToCluster(
  target: KubeTarget,
  objects: readonly KObject[],
  options: Pick<ApplyOptions, 'owner' | 'force' | 'signal' | 'watched' | 'observed'> & {
    beforeWrite?: (intended: InventoryEntry[]) => Promise<void>;
  },
): Promise<ClusterApplyResult> {
  const { beforeWrite, ...rest } = options;
  const entries = await new ApplyManager(target).applyAllStaged(objects as readonly KubeObject[], {
    ...rest,
    beforeWrite: beforeWrite && ((written) => beforeWrite(written.map((e) => ({ id: e.id, v: e.version })))),
  });
  return {
    changes: entries.map((e) => changeOf(e.ref, e.action)),
    inventory: entries.map((e) => ({ id: e.id, v: e.version })),
    applied: entries.filter((e) => e.action !== 'skipped').map((e) => e.ref),
  };
}

/** The identity of an inventory entry (namespace `''` for cluster-scoped objects). */
export function identityOfEntry(entry: InventoryEntry): ObjectIdentity {
  const { namespace, name, group, kind } = parseObjectId(entry.id);
  return { apiVersion: group ? `${group}/${entry.v}` : entry.v, kind, namespace, name };
}

/**
 * Deletes the cluster objects of `entries` through the apply library's prune (reverse apply order, only objects
 * still carrying `owner`'s labels and not annotated `prune: disabled`). Returns what was deleted (or already
 * gone) and the entries whose delete failed, with their errors.
 */
export async function pruneFromCluster(
  target: KubeTarget,
  entries: readonly InventoryEntry[],
  owner: Owner,
  signal?: AbortSignal,
): Promise<{ changes: ChangeEntry[]; failed: InventoryEntry[]; errors: string[] }> {
  const result = await pruneEntries(target, entries, { owner, signal });
  return {
    changes: result.deleted.map((e) => changeOf(identityOfEntry(e), 'deleted')),
    failed: result.failed.map((f) => f.entry),
    errors: result.failed.map((f) => f.error),
  };
}

/** What undoing drift did: the change entries for the event, per object re-applied or left alone. */
export async function undoClusterDrift(
  target: KubeTarget,
  items: readonly { desired: KubeObject; live: KubeObject | undefined }[],
  options: Pick<ApplyOptions, 'owner' | 'force' | 'signal'>,
): Promise<ChangeEntry[]> {
  const entries = await new ApplyManager(target).reapply(items, options);
  return entries.filter((e) => e.action !== 'skipped').map((e) => changeOf(e.ref, e.action));
}
