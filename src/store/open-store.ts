import type { KubeConfigSource } from '../apply/kube-config-loader.ts';
import type { Store } from './store.ts';

/** Which store, and where it is. */
export interface StoreSettings {
  /** `sqlite`: `<dataDir>/kedge.db`; `kubernetes`: custom resources on the cluster of `cluster`. */
  kind: 'sqlite' | 'kubernetes';
  dataDir: string;
  /** The cluster of the Kubernetes store (`--kubeconfig`, `--context`; else KUBECONFIG, in-cluster, ~/.kube/config). */
  cluster?: KubeConfigSource;
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
  const { loadKubeConfig } = await import('../apply/kube-config-loader.ts');
  const { openKubernetesStore } = await import('./kubernetes/kubernetes-store.ts');
  return openKubernetesStore({ kubeConfig: loadKubeConfig(settings.cluster) });
}
