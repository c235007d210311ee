import { ReconcileRequestAnnotation } from '../api/conditions.ts';
import type { KObject, ObjectRef } from '../api/meta.ts';
import { refOf } from '../api/meta.ts';
import type { Receiver } from '../api/receiver.ts';
import { ConflictError, type Store } from '../store/store.ts';

/** The objects a Receiver's `resources` name: by name, or `*` with optional matchLabels; missing ones are skipped. */
export async function receiverTargets(store: Store, receiver: Receiver): Promise<KObject[]> {
  const defaultNamespace = receiver.metadata.namespace ?? 'default';
  const found = new Map<string, KObject>();
  for (const resource of receiver.spec!.resources) {
    const namespace = resource.namespace ?? defaultNamespace;
    if (resource.name === '*') {
      const labels = resource.matchLabels && Object.keys(resource.matchLabels).length > 0 ? resource.matchLabels : undefined;
      for (const object of await store.list(resource.kind, { namespace, ...(labels ? { labels } : {}) })) {
        found.set(`${object.kind}/${namespace}/${object.metadata.name}`, object);
      }
    } else {
      const object = await store.get({ kind: resource.kind, namespace, name: resource.name });
      if (object) found.set(`${object.kind}/${namespace}/${object.metadata.name}`, object);
    }
  }
  return [...found.values()];
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
