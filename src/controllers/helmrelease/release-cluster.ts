import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { secretValues } from '../../api/core.ts';
import { HelmReasons, type HelmRelease } from '../../api/helmrelease.ts';
import type { KubeTarget } from '../../apply/kube-client.ts';
import type { HelmConnection } from '../../helm/helm-command.ts';
import { ReconcileError, StallingError } from '../../runtime/errors.ts';
import type { Store } from '../../store/store.ts';
import type { StoreKubeConfigOptions } from '../../store/kubernetes/store-kubeconfig.ts';

/** How one HelmRelease reaches its cluster: helm's connection and a REST client for the release storage. */
export interface ReleaseCluster {
  connection: HelmConnection;
  target: KubeTarget;
}

/**
 * The cluster of a HelmRelease: `spec.kubeConfig.secretRef` (written to a 0600 file in `workDir` for helm),
 * else the engine's own (`--kubeconfig`, `--context`, in-cluster); `serviceAccountName` is impersonated by
 * both. `targets` caches REST clients by kubeconfig identity.
 */
export async function releaseCluster(
  store: Store,
  hr: HelmRelease,
  engineCluster: StoreKubeConfigOptions | undefined,
  workDir: string,
  targets: Map<string, KubeTarget>,
): Promise<ReleaseCluster> {
  const spec = hr.spec!;
  const namespace = hr.metadata.namespace ?? 'default';
  const { KubeTarget, kubeConfigFromString } = await import('../../apply/kube-client.ts');
  const connection: HelmConnection = { home: workDir, plugins: path.join(workDir, 'plugins') };
  await mkdir(connection.plugins!, { recursive: true });
  let key: string;
  let load: () => KubeTarget;
  if (spec.kubeConfig?.secretRef) {
    const ref = spec.kubeConfig.secretRef;
    const secret = await store.get({ kind: 'Secret', namespace, name: ref.name });
    if (!secret)
      throw new ReconcileError(
        HelmReasons.InitFailed,
        `kubeconfig Secret '${namespace}/${ref.name}' not found`,
      );
    const values = secretValues(secret);
    const keyName = ref.key ?? (values['value'] !== undefined ? 'value' : 'value.yaml');
    const text = values[keyName];
    if (text === undefined)
      throw new StallingError(
        HelmReasons.InitFailed,
        `kubeconfig Secret '${namespace}/${ref.name}' has no key '${keyName}'`,
      );
    connection.kubeconfig = path.join(workDir, 'kubeconfig');
    await writeFile(connection.kubeconfig, text, { mode: 0o600 });
    key = `secret:${namespace}/${ref.name}:${secret.metadata.resourceVersion ?? ''}:${keyName}`;
    load = () => new KubeTarget(kubeConfigFromString(text, `kubeconfig in Secret/${namespace}/${ref.name}`));
  } else if (engineCluster) {
    const { storeKubeConfig } = await import('../../store/kubernetes/store-kubeconfig.ts');
    if (engineCluster.kubeconfig) connection.kubeconfig = engineCluster.kubeconfig;
    if (engineCluster.context) connection.kubeContext = engineCluster.context;
    key = `engine:${engineCluster.kubeconfig ?? ''}:${engineCluster.context ?? ''}`;
    load = () => new KubeTarget(storeKubeConfig(engineCluster));
  } else {
    throw new StallingError(
      HelmReasons.InitFailed,
      'no cluster to install the release to: start kedge with --kubeconfig, or set spec.kubeConfig.secretRef',
    );
  }
  let target = targets.get(key);
  if (!target) {
    try {
      target = load();
    } catch (error) {
      throw new StallingError(HelmReasons.InitFailed, (error as Error).message);
    }
    targets.set(key, target);
  }
  if (spec.serviceAccountName) {
    connection.asUser = `system:serviceaccount:${namespace}:${spec.serviceAccountName}`;
    const saKey = `${key}|sa:${namespace}/${spec.serviceAccountName}`;
    let impersonating = targets.get(saKey);
    if (!impersonating) {
      impersonating = target.impersonating({ namespace, name: spec.serviceAccountName });
      targets.set(saKey, impersonating);
    }
    target = impersonating;
  }
  return { connection, target };
}
