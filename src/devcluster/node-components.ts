import { setTimeout as sleep } from 'node:timers/promises';
import { httpsGet, type ClientCredentials } from './api-probe.ts';
import type { ClusterLayout } from './cluster-layout.ts';
import type { ClusterPki } from './cluster-pki.ts';
import type { ControlPlaneBinaries } from './control-plane-binaries.ts';
import type { ControlPlaneProcess } from './control-plane-process.ts';
import { DevClusterError } from './dev-cluster-error.ts';
import { startKubeControllerManager, startKubeScheduler } from './kube-component-process.ts';
import { startKwok } from './kwok-process.ts';
import { createSimulatedNodes } from './simulated-nodes.ts';

/** What the node components need of a running API server. */
export interface NodeComponentsConfig {
  layout: ClusterLayout;
  pki: ClusterPki;
  credentials: ClientCredentials;
  server: string;
  binaries: ControlPlaneBinaries;
  /** Number of simulated nodes, at least 1. */
  nodes: number;
  onProgress?: (line: string) => void;
  /** Called with each process as soon as it runs, so that the caller can stop it should a later step fail. */
  started: (process: ControlPlaneProcess) => void;
}

/** The running node components. */
export interface NodeComponents {
  /** Their loopback HTTPS ports (health, metrics). */
  ports: { kubeControllerManager: number; kubeScheduler: number };
  pids: { kubeControllerManager: number; kubeScheduler: number; kwok: number };
}

/**
 * Turns an API server into a cluster that runs workloads: starts kube-controller-manager and kube-scheduler,
 * creates `nodes` simulated nodes and starts kwok, then waits until every node is Ready and the `default`
 * ServiceAccount exists (pods are admitted from then on). Throws `DevClusterError` naming the step.
 */
export async function startNodeComponents(config: NodeComponentsConfig): Promise<NodeComponents> {
  const { binaries, onProgress, started } = config;
  onProgress?.(`starting kube-controller-manager (${binaries.kubeControllerManager})`);
  const controllerManager = await startKubeControllerManager(config, binaries.kubeControllerManager);
  started(controllerManager);
  onProgress?.(`starting kube-scheduler (${binaries.kubeScheduler})`);
  const scheduler = await startKubeScheduler(config, binaries.kubeScheduler);
  started(scheduler);
  onProgress?.(`starting kwok with ${config.nodes} simulated node(s) (${binaries.kwok})`);
  await createSimulatedNodes(config.server, config.credentials, config.nodes);
  const kwok = await startKwok({ ...config, stages: binaries.kwokStages }, binaries.kwok);
  started(kwok);
  await waitForDefaultServiceAccount(config.server, config.credentials);
  return {
    ports: { kubeControllerManager: controllerManager.port, kubeScheduler: scheduler.port },
    pids: { kubeControllerManager: controllerManager.pid, kubeScheduler: scheduler.pid, kwok: kwok.pid },
  };
}

// The service-account controller creates it shortly after the controller-manager starts.
async function waitForDefaultServiceAccount(
  server: string,
  credentials: ClientCredentials,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const res = await httpsGet(
      `${server}/api/v1/namespaces/default/serviceaccounts/default`,
      credentials,
    ).catch(() => undefined);
    if (res?.status === 200) return;
    await sleep(100);
  }
  throw new DevClusterError(
    'NotReady',
    `the controller-manager created no default ServiceAccount within ${timeoutMs / 1000} s; see its log kube-controller-manager.log`,
  );
}
