import { matchesLabelSelector, type LabelRequirement } from '../api/label-selector.ts';
import { refOf, refString, type KObject, type ObjectRef } from '../api/meta.ts';
import type { ListOptions, Store, WatchEvent } from './store.ts';

/** Which of Kedge's objects one engine sees (Flux's `--watch-all-namespaces=false`, `--watch-label-selector`). */
export interface StoreScope {
  /** Only objects in this namespace; all namespaces when absent. */
  namespace?: string;
  /** Only objects whose labels match (Flux's sharding: `sharding.fluxcd.io/key in (shard1)`). */
  labelSelector?: readonly LabelRequirement[];
}

/**
 * A view of `store` limited to `scope`, as Flux's controllers limit their cache: objects of Kedge's and Flux's
 * kinds outside it are not found, not listed and not watched — an object whose labels leave the scope is seen
 * as deleted (once; an object never in scope may be reported deleted once too, which a controller ignores). Core kinds (Secrets, ConfigMaps) are never limited: Flux reads them
 * without its cache. Writes and events go to `store` unchanged.
 */
export function scopedStore(store: Store, scope: StoreScope): Store {
  if (scope.namespace === undefined && !scope.labelSelector?.length) return store;
  const inScope = (object: KObject): boolean =>
    !isScopedKind(object) ||
    ((scope.namespace === undefined || (object.metadata.namespace ?? 'default') === scope.namespace) &&
      matchesLabelSelector(scope.labelSelector ?? [], object.metadata.labels));
  return {
    get: async (ref: ObjectRef) => {
      const object = await store.get(ref);
      return object && inScope(object) ? object : undefined;
    },
    list: async (kind: string, options?: ListOptions) => {
      const namespace = options?.namespace ?? scope.namespace;
      return (await store.list(kind, { ...options, namespace })).filter(inScope);
    },
    watch: (kind, handler) => {
      // Keys of objects seen outside the scope since their last change inside it: each leaving is one DELETED.
      const outside = new Set<string>();
      return store.watch(kind, (event: WatchEvent) => {
        const key = refString(refOf(event.object));
        if (inScope(event.object)) {
          outside.delete(key);
          handler(event);
        } else if (!outside.has(key)) {
          if (event.type !== 'DELETED') outside.add(key);
          handler({ type: 'DELETED', object: event.object });
        }
      });
    },
    apply: (object) => store.apply(object),
    update: (object) => store.update(object),
    updateStatus: (ref, status, resourceVersion) => store.updateStatus(ref, status, resourceVersion),
    delete: (ref) => store.delete(ref),
    recordEvent: (event) => store.recordEvent(event),
    listEvents: (filter) => store.listEvents(filter),
    close: () => store.close(),
  };
}

/** Kedge's and Flux's kinds live in API groups; core kinds (`v1` Secret, ConfigMap) do not. */
function isScopedKind(object: KObject): boolean {
  return object.apiVersion.includes('/');
}
