import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { KubeConfigError, kubeConfigFromFile } from './kube-client.ts';

/** Where the engine's or the CLI's own cluster comes from (`--kubeconfig`, `--context`). */
export interface KubeConfigSource {
  /** A kubeconfig file; without it, KUBECONFIG, then the in-cluster service account, then ~/.kube/config. */
  file?: string;
  /** A context of that kubeconfig instead of its current one. */
  context?: string;
}

const serviceAccountDir = '/var/run/secrets/kubernetes.io/serviceaccount';

/**
 * Loads the cluster's client configuration as controller-runtime does for Flux's controllers: the `file`
 * (`--kubeconfig`), else the files in `KUBECONFIG`, else the pod's service account (in a cluster), else
 * `~/.kube/config`; then `context` when given. Errors name the file or the context, never the content.
 */
export function loadKubeConfig(source: KubeConfigSource = {}): KubeConfig {
  const kc = loadConfig(source.file);
  if (source.context !== undefined) {
    if (!kc.contexts.some((c) => c.name === source.context)) {
      const known = kc.contexts.map((c) => c.name).join(', ') || 'none';
      throw new KubeConfigError(`kubeconfig has no context '${source.context}' (contexts: ${known})`);
    }
    kc.setCurrentContext(source.context);
  }
  if (!kc.getCurrentCluster())
    throw new KubeConfigError(`kubeconfig context '${kc.currentContext}' has no cluster`);
  return kc;
}

/** Where {@link loadKubeConfig} takes the configuration from, for messages (`--kubeconfig F`, `in-cluster`, …). */
export function describeKubeConfigSource(source: KubeConfigSource = {}): string {
  const where =
    source.file ??
    firstKubeconfigEnvFile() ??
    (inCluster() ? 'in-cluster service account' : join(homedir(), '.kube', 'config'));
  return source.context ? `${where} (context ${source.context})` : where;
}

function loadConfig(file: string | undefined): KubeConfig {
  if (file !== undefined) return kubeConfigFromFile(file);
  const kc = new KubeConfig();
  if (firstKubeconfigEnvFile() !== undefined) {
    try {
      kc.loadFromDefault();
    } catch (error) {
      throw new KubeConfigError(
        `cannot load KUBECONFIG (${process.env.KUBECONFIG}): ${(error as Error).message.split('\n')[0]}`,
      );
    }
    return kc;
  }
  if (inCluster()) {
    kc.loadFromCluster();
    return kc;
  }
  const home = join(homedir(), '.kube', 'config');
  if (existsSync(home)) return kubeConfigFromFile(home);
  throw new KubeConfigError(
    'no cluster configuration: pass --kubeconfig FILE, set KUBECONFIG, or run Kedge in a pod with a service account',
  );
}

function firstKubeconfigEnvFile(): string | undefined {
  return process.env.KUBECONFIG?.split(delimiter).find((f) => f.length > 0);
}

function inCluster(): boolean {
  return Boolean(process.env.KUBERNETES_SERVICE_HOST) && existsSync(join(serviceAccountDir, 'token'));
}
