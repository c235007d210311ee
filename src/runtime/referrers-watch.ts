import type { KObject, ObjectRef } from '../api/meta.ts';
import type { Store } from '../store/store.ts';
import type { RelatedWatch } from './reconciler.ts';

/**
 * A watch on `watchedKind` that reconciles every object of `kind` in the changed object's namespace that
 * refers to it by name (`refersTo(object, name)`): a Provider's Secret, an Alert's Provider, an included source.
 */
export function referrersWatch<T extends KObject>(
  store: Store,
  kind: string,
  watchedKind: string,
  refersTo: (object: T, name: string) => boolean,
): RelatedWatch {
  return {
    kind: watchedKind,
    map: async ({ object }): Promise<ObjectRef[]> => {
      const all = (await store.list(kind, { namespace: object.metadata.namespace })) as T[];
      return all
        .filter((o) => refersTo(o, object.metadata.name))
        .map((o) => ({ kind, namespace: o.metadata.namespace ?? 'default', name: o.metadata.name }));
    },
  };
}
