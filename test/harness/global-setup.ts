import type { TestProject } from 'vitest/node';
import { startDevCluster } from '../../src/devcluster/dev-cluster.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Admin kubeconfig of the control plane (etcd + kube-apiserver) shared by this test run. */
    kubeconfig: string;
  }
}

/**
 * Vitest global setup: starts ONE real control plane for the whole run (building the binaries first when
 * neither `KEDGE_CONTROL_PLANE_DIR` nor the cache has them, with progress on stderr), provides its
 * kubeconfig as `inject('kubeconfig')`, and stops it at teardown. A failure to start fails the run; nothing
 * is skipped silently.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = Date.now();
  const cluster = await startDevCluster({ onProgress: (line) => process.stderr.write(`[global-setup] ${line}\n`) });
  process.stderr.write(`[global-setup] control plane ready at ${cluster.server} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  project.provide('kubeconfig', cluster.kubeconfigPath);
  return () => cluster.stop();
}
