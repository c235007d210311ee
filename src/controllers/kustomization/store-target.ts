import { RollbackAnnotation } from '../../api/history.ts';
import { SourceArtifactAnnotation, SourceRevisionAnnotation } from '../../api/app.ts';
import { findKind } from '../../api/kinds.ts';
import type { InventoryEntry } from '../../api/kustomization.ts';
import type { KObject } from '../../api/meta.ts';
import { isOwnedBy, ownerLabels, type Owner } from '../../apply/owner-labels.ts';
import { parseObjectId } from '../../apply/object-id.ts';
import { pruneDisabled } from '../../apply/ssa-annotations.ts';
import type { Store } from '../../store/store.ts';
import { changeOf, inventoryEntryOf, type ChangeEntry } from './change-set.ts';

/** An object for the store failed validation or could not be written; the message names it. */
export class StoreApplyError extends Error {
  override name = 'StoreApplyError';
  readonly reason = 'ReconciliationFailed';
}

/** The artifact an App came from, so the host runtime can find its files. */
export interface AppOrigin {
  artifactPath: string;
  revision: string;
}

/** Options of {@link applyToStore}. */
export interface StoreApplyOptions {
  /**
   * Called once, after validation and before the first write, with the inventory entries of every object about
   * to be written: the caller records them so that objects written before a crash are still pruned later.
   */
  beforeWrite?: (intended: InventoryEntry[]) => Promise<void>;
}

/**
 * Validates every object against its kind's schema (all problems reported at once), then writes each with the
 * owner labels; Apps also get the `kedge.dev/source-artifact` and `kedge.dev/source-revision` annotations.
 * Objects without a namespace go to `default`. Returns the change entries and inventory entries.
 */
export async function applyToStore(
  store: Store,
  objects: readonly KObject[],
  owner: Owner,
  origin: AppOrigin,
  options: StoreApplyOptions = {},
): Promise<{ changes: ChangeEntry[]; inventory: InventoryEntry[] }> {
  const problems: string[] = [];
  for (const object of objects) {
    const { apiVersion, kind, metadata, status: _status, ...body } = object;
    const info = findKind(apiVersion, kind);
    const result = info?.body.safeParse(body);
    if (result && !result.success) {
      const issues = result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
      problems.push(`${kind}/${metadata.namespace ?? 'default'}/${metadata.name}: ${issues}`);
    }
  }
  if (problems.length > 0) throw new StoreApplyError(`invalid objects: ${problems.join(', ')}`);
  await options.beforeWrite?.(objects.map((o) => inventoryEntryOf(identityOf(o))));

  const changes: ChangeEntry[] = [];
  const inventory: InventoryEntry[] = [];
  for (const object of objects) {
    const copy = structuredClone(object);
    delete copy.status;
    copy.metadata.namespace ??= 'default';
    copy.metadata.labels = { ...copy.metadata.labels, ...ownerLabels(owner) };
    withAppOrigin(copy, origin);
    await keepRollbackHold(store, copy);
    const identity = identityOf(copy);
    const { result } = await store.apply(copy).catch((error: unknown) => {
      throw new StoreApplyError(`${copy.kind}/${identity.namespace}/${identity.name} apply failed: ${(error as Error).message}`, { cause: error });
    });
    changes.push(changeOf(identity, result));
    inventory.push(inventoryEntryOf(identity));
  }
  return { changes, inventory };
}

/**
 * A rollback hold on a Kustomization or App (`kedge.dev/rollback`, written by `kedge rollback`) is not part of
 * the manifests: re-applying the parent keeps it, as server-side apply keeps another manager's annotation.
 */
async function keepRollbackHold(store: Store, object: KObject): Promise<void> {
  if (object.kind !== 'Kustomization' && object.kind !== 'App') return;
  if (object.metadata.annotations?.[RollbackAnnotation] !== undefined) return;
  const ref = { kind: object.kind, namespace: object.metadata.namespace ?? 'default', name: object.metadata.name };
  const hold = (await store.get(ref))?.metadata.annotations?.[RollbackAnnotation];
  if (hold !== undefined) object.metadata.annotations = { ...object.metadata.annotations, [RollbackAnnotation]: hold };
}

/** Annotates an App (in place) with the artifact and revision it came from; other kinds are left alone. */
export function withAppOrigin(object: KObject, origin: AppOrigin): KObject {
  if (object.kind !== 'App') return object;
  object.metadata.annotations = {
    ...object.metadata.annotations,
    [SourceArtifactAnnotation]: origin.artifactPath,
    [SourceRevisionAnnotation]: origin.revision,
  };
  return object;
}

/**
 * Deletes the store objects of `entries` that still carry `owner`'s labels and do not opt out of pruning.
 * Objects already gone or taken over count as done; those whose delete failed are returned in `failed`.
 */
export async function pruneFromStore(
  store: Store,
  entries: readonly InventoryEntry[],
  owner: Owner,
): Promise<{ changes: ChangeEntry[]; failed: InventoryEntry[] }> {
  const changes: ChangeEntry[] = [];
  const failed: InventoryEntry[] = [];
  for (const entry of entries) {
    const { namespace, name, kind, group } = parseObjectId(entry.id);
    const ref = { kind, namespace: namespace || 'default', name };
    try {
      const live = await store.get(ref);
      if (!live || !isOwnedBy(live, owner) || pruneDisabled(live)) continue;
      await store.delete(ref);
      const apiVersion = group ? `${group}/${entry.v}` : entry.v;
      changes.push(changeOf({ apiVersion, kind, namespace: ref.namespace, name }, 'deleted'));
    } catch {
      failed.push(entry);
    }
  }
  return { changes, failed };
}

/** The identity an object has in the store (no namespace: `default`). */
function identityOf(object: KObject): { apiVersion: string; kind: string; namespace: string; name: string } {
  return { apiVersion: object.apiVersion, kind: object.kind, namespace: object.metadata.namespace ?? 'default', name: object.metadata.name };
}
