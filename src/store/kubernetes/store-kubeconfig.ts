import { existsSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import { KubeConfigError, kubeConfigFromFile } from '../../apply/kube-client.ts';
import { inClusterPathPrefix, serviceAccountFile } from './service-account-files.ts';

/** Where the store's cluster credentials come from. */
export interface StoreKubeConfigOptions {
  /** A kubeconfig file. Default: in a pod, its service account; elsewhere `$KUBECONFIG` or `~/.kube/config`. */
  kubeconfig?: string;
  /** A context of that kubeconfig. Default: its current context. */
  context?: string;
}

/**
 * Loads the kubeconfig the store talks with: the given file (with `context`), else the pod's service account
 * when running in a cluster (`KUBERNETES_SERVICE_HOST`/`_PORT` and the mounted token; see `inClusterRoot`), else the default kubeconfig (`$KUBECONFIG`, `~/.kube/config`), as kubectl does.
 * Errors name the file and the context, never the content.
 */
export function storeKubeConfig(options: StoreKubeConfigOptions): KubeConfig {
  let kc: KubeConfig;
  let source: string;
  if (options.kubeconfig !== undefined) {
    kc = kubeConfigFromFile(options.kubeconfig);
    source = `kubeconfig file ${options.kubeconfig}`;
  } else if (process.env.KUBERNETES_SERVICE_HOST && existsSync(serviceAccountFile('token'))) {
    kc = new KubeConfig();
    kc.loadFromCluster(inClusterPathPrefix());
    source = 'the in-cluster service account';
  } else {
    kc = new KubeConfig();
    try {
      kc.loadFromDefault();
    } catch (error) {
      throw new KubeConfigError(
        `cannot load the default kubeconfig: ${(error as Error).message.split('\n')[0]}`,
      );
    }
    source = process.env.KUBECONFIG
      ? `kubeconfig $KUBECONFIG (${process.env.KUBECONFIG})`
      : 'the default kubeconfig';
  }
  if (options.context !== undefined) {
    if (!kc.getContextObject(options.context))
      throw new KubeConfigError(`${source} has no context '${options.context}'`);
    kc.setCurrentContext(options.context);
  }
  if (!kc.getCurrentCluster()) throw new KubeConfigError(`${source} has no current context with a cluster`);
  return kc;
}
