import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { KubeConfigError, kubeConfigFromFile } from './kube-client.ts';

/** How a command or the engine names its cluster, as kubectl and flux do. */
export interface KubeConfigSource {
  /** `--kubeconfig FILE`. Default: `KUBECONFIG`, else `~/.kube/config`, else the pod's service account. */
  kubeconfig?: string;
  /** `--context NAME`: a context of that kubeconfig instead of its current one. */
  context?: string;
}

/**
 * Loads a kubeconfig the way kubectl does: the file given, else the files in `KUBECONFIG` (merged), else
 * `~/.kube/config`, else in-cluster (the pod's service account token and CA). Unlike client-node's
 * `loadFromDefault`, finding nothing is an error naming what was tried, never a silent `localhost:8080`.
 */
export function loadKubeConfig(source: KubeConfigSource = {}): KubeConfig {
  let kc: KubeConfig;
  if (source.kubeconfig) kc = kubeConfigFromFile(source.kubeconfig);
  else if (process.env.KUBECONFIG) kc = fromEnvFiles(process.env.KUBECONFIG);
  else if (existsSync(join(homedir(), '.kube', 'config')))
    kc = kubeConfigFromFile(join(homedir(), '.kube', 'config'));
  else if (process.env.KUBERNETES_SERVICE_HOST) {
    kc = new KubeConfig();
    kc.loadFromCluster();
  } else
    throw new KubeConfigError(
      'no kubeconfig: give --kubeconfig, set KUBECONFIG, create ~/.kube/config or run in a pod',
    );
  if (source.context !== undefined) {
    if (!kc.getContextObject(source.context))
      throw new KubeConfigError(`the kubeconfig has no context '${source.context}'`);
    kc.setCurrentContext(source.context);
  }
  if (!kc.getCurrentCluster())
    throw new KubeConfigError(`the kubeconfig's context '${kc.currentContext}' has no cluster`);
  return kc;
}

function fromEnvFiles(value: string): KubeConfig {
  const files = value.split(':').filter((f) => f !== '' && existsSync(f));
  if (files.length === 0) throw new KubeConfigError(`KUBECONFIG names no existing file: ${value}`);
  if (files.length === 1) return kubeConfigFromFile(files[0]!);
  const kc = new KubeConfig();
  let current = '';
  for (const file of files) {
    const part = new KubeConfig();
    try {
      part.loadFromFile(file);
    } catch (error) {
      throw new KubeConfigError(
        `cannot load kubeconfig file ${file}: ${(error as Error).message.split('\n')[0]}`,
      );
    }
    // As kubectl: the first file that sets a current context wins.
    if (current === '') current = part.currentContext;
    kc.mergeConfig(part, true);
  }
  kc.setCurrentContext(current);
  return kc;
}
