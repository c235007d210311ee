import type { StoreCapabilities } from '../../src/store/store-conformance.ts';
import type { KubernetesStore } from '../../src/store/kubernetes/kubernetes-store.ts';
import { eventually } from './eventually.ts';

/** The Kubernetes store's watches see other processes' changes from their first list (an informer's). */
export const kubernetesWatch: Pick<StoreCapabilities, 'watchSeesOthersAtOnce' | 'untilWatching'> = {
  watchSeesOthersAtOnce: false,
  untilWatching: (store, kind) =>
    eventually(() => (store as KubernetesStore).watchLists(kind) >= 1, {
      what: `the store's watch of ${kind} to list`,
    }).then(() => undefined),
};
