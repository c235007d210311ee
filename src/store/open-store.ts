import type { StoreKubeConfigOptions as KubeConfigSource } from './kubernetes/store-kubeconfig.ts';
import type { Store } from './store.ts';

/** Which store, and where it is. */
export interface StoreSettings {
  /** `sqlite`: `<dataDir>/kedge.db`; `kubernetes`: custom resources on the cluster of `cluster`. */
  kind: 'sqlite' | 'kubernetes';
  dataDir: string;
  /** The cluster of the Kubernetes store (`--kubeconfig`, `--context`; else in-cluster, else KUBECONFIG or ~/.kube/config). */
  cluster?: KubeConfigSource;
  /**
   * Kubernetes store only: list and watch only this namespace (`--watch-all-namespaces=false`) and only objects
   * matching this label selector (`--watch-label-selector`, Flux's sharding). Default: everything.
   */
  scope?: { namespace?: string; labelSelector?: string };
}

/**
 * Opens the store the engine or a CLI command works on. Each implementation is imported only when chosen: a
 * standalone command never loads the Kubernetes client, an operator-mode one never opens SQLite.
 */
export async function openStore(settings: StoreSettings): Promise<Store> {
  if (settings.kind === 'sqlite') {
    const { openSqliteStore } = await import('./sqlite/sqlite-store.ts');
    return openSqliteStore(settings.dataDir);
  }
  const { storeKubeConfig: loadKubeConfig } = await import('./kubernetes/store-kubeconfig.ts');
  const { openKubernetesStore } = await import('./kubernetes/kubernetes-store.ts');
  const namespace = settings.scope?.namespace;
  return openKubernetesStore({
    kubeConfig: loadKubeConfig(settings.cluster ?? {}),
    watchAllNamespaces: namespace === undefined,
    namespace,
    labelSelector: settings.scope?.labelSelector,
  });
}
