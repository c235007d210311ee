import { ReconcileRequestAnnotation } from '../api/conditions.ts';
import type { KObject, ObjectRef } from '../api/meta.ts';
import { refOf } from '../api/meta.ts';
import type { Receiver } from '../api/receiver.ts';
import { ConflictError, type Store } from '../store/store.ts';
import { receiverResourceFilters, type ReceiverRequest } from './receiver-filter.ts';

/** What a webhook selects: the objects to reconcile, and why others could not be judged. */
export interface ReceiverTargets {
  targets: KObject[];
  /** One message per object whose filter failed to evaluate (nothing is requested for it). */
  failures: string[];
}

/**
 * The objects a Receiver's `resources` name — by name, or `*` with optional matchLabels; missing ones are
 * skipped — that its CEL filters (`resourceFilter`, `resources[].filter`) accept for this `request`.
 */
export async function receiverTargets(
  store: Store,
  receiver: Receiver,
  request?: ReceiverRequest,
  claims?: Record<string, unknown>,
): Promise<ReceiverTargets> {
  const defaultNamespace = receiver.metadata.namespace ?? 'default';
  const filters = receiverResourceFilters(receiver, request, claims);
  const found = new Map<string, KObject>();
  const failures: string[] = [];
  for (const [index, resource] of receiver.spec!.resources.entries()) {
    const namespace = resource.namespace ?? defaultNamespace;
    let candidates: KObject[];
    if (resource.name === '*') {
      const labels = resource.matchLabels && Object.keys(resource.matchLabels).length > 0 ? resource.matchLabels : undefined;
      candidates = await store.list(resource.kind, { namespace, ...(labels ? { labels } : {}) });
    } else {
      const object = await store.get({ kind: resource.kind, namespace, name: resource.name });
      candidates = object ? [object] : [];
    }
    for (const object of candidates) {
      const key = `${object.kind}/${namespace}/${object.metadata.name}`;
      try {
        if (filters[index]!(object)) found.set(key, object);
      } catch (error) {
        failures.push(`${key}: ${(error as Error).message}`);
      }
    }
  }
  return { targets: [...found.values()], failures };
}

/**
 * Sets `reconcile.fluxcd.io/requestedAt` on an object (as Flux's receiver does), retrying on conflicts.
 * Returns the object's ref, or undefined when it is gone.
 */
export async function requestReconcile(store: Store, ref: ObjectRef, at = new Date().toISOString()): Promise<ObjectRef | undefined> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const object = await store.get(ref);
    if (!object) return undefined;
    object.metadata.annotations = { ...object.metadata.annotations, [ReconcileRequestAnnotation]: at };
    try {
      return refOf(await store.update(object));
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
    }
  }
  throw new ConflictError(ref);
}
