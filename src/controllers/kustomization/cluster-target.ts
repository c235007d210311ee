import type { InventoryEntry } from '../../api/kustomization.ts';
import type { KObject } from '../../api/meta.ts';
import { resourcePath } from '../../apply/api-discovery.ts';
import { ApplyManager } from '../../apply/apply-manager.ts';
import { isNotFound } from '../../apply/errors.ts';
import type { KubeTarget } from '../../apply/kube-client.ts';
import { parseObjectId, type KubeObject, type ObjectIdentity } from '../../apply/object-id.ts';
import { isOwnedBy, type Owner } from '../../apply/owner-labels.ts';
import { pruneDisabled } from '../../apply/ssa-annotations.ts';
import { changeOf, type ChangeEntry } from './change-set.ts';

/** Deleting one or more objects from the cluster failed; `failed` keeps them in the inventory. */
export class PruneError extends Error {
  override name = 'PruneError';
  readonly reason = 'PruneFailed';
}

/** The result of applying to the cluster: changes, inventory, and the identities applied (for health). */
export interface ClusterApplyResult {
  changes: ChangeEntry[];
  inventory: InventoryEntry[];
  applied: ObjectIdentity[];
}

/** Server-side apply of rendered objects in Flux's stages, through the apply library. */
export async function applyToCluster(
  target: KubeTarget,
  objects: readonly KObject[],
  options: { owner: Owner; force?: boolean; signal?: AbortSignal },
): Promise<ClusterApplyResult> {
  const entries = await new ApplyManager(target).applyAllStaged(objects as readonly KubeObject[], options);
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
 * Deletes the cluster objects of `entries` that still carry `owner`'s labels and do not opt out of pruning
 * (`kustomize.toolkit.fluxcd.io/prune: disabled`). Objects already gone, or taken over by someone else, count
 * as done. Returns what was deleted and the entries whose delete failed, with their errors.
 */
export async function pruneFromCluster(
  target: KubeTarget,
  entries: readonly InventoryEntry[],
  owner: Owner,
): Promise<{ changes: ChangeEntry[]; failed: InventoryEntry[]; errors: string[] }> {
  const changes: ChangeEntry[] = [];
  const failed: InventoryEntry[] = [];
  const errors: string[] = [];
  for (const entry of entries) {
    const identity = identityOfEntry(entry);
    try {
      const resource = await target.discovery.resourceFor(identity.apiVersion, identity.kind).catch((error: unknown) => {
        // The kind is gone (its CRD was deleted): so are its objects.
        if (/no matches for kind/.test((error as Error).message)) return undefined;
        throw error;
      });
      if (!resource) continue;
      const path = resourcePath(resource, identity.namespace || undefined, identity.name);
      const live = await target.rest.request<KObject>('GET', path).catch((error: unknown) => {
        if (isNotFound(error)) return undefined;
        throw error;
      });
      if (!live || live.metadata.deletionTimestamp || !isOwnedBy(live, owner) || pruneDisabled(live)) continue;
      await target.rest.request('DELETE', path, { body: { propagationPolicy: 'Background' } }).catch((error: unknown) => {
        if (!isNotFound(error)) throw error;
      });
      changes.push(changeOf(identity, 'deleted'));
    } catch (error) {
      failed.push(entry);
      errors.push(`${changeOf(identity, 'deleted').subject} delete failed: ${(error as Error).message}`);
    }
  }
  return { changes, failed, errors };
}
