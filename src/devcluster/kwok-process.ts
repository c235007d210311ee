import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ClientCredentials } from './api-probe.ts';
import type { ClusterLayout } from './cluster-layout.ts';
import { startControlPlaneProcess, type ControlPlaneProcess } from './control-plane-process.ts';
import { kwokNodeAnnotation, readySimulatedNodes } from './simulated-nodes.ts';

/** Where kwok finds the cluster and its nodes. */
export interface KwokConfig {
  layout: ClusterLayout;
  server: string;
  credentials: ClientCredentials;
  /** The stage file kwok runs (`ControlPlaneBinaries.kwokStages`). */
  stages: string;
  /** How many simulated nodes exist (see `createSimulatedNodes`); kwok is ready once all are Ready. */
  nodes: number;
}

/**
 * Starts kwok, which plays kubelet for the nodes annotated `kwok.x-k8s.io/node=fake`: it makes them Ready
 * and renews their leases, and moves the pods scheduled on them through the stages of `stages` (kwok's
 * defaults: Pending → Running and Ready, Job pods → Succeeded, deleted pods removed; pods labelled
 * `pod-container-running-failed.stage.kwok.x-k8s.io=true` → Failed). Pod IPs come from 10.244.0.0/16. It
 * serves nothing. Resolves when every node is Ready (up to 60 s).
 */
export async function startKwok(config: KwokConfig, binary: string): Promise<ControlPlaneProcess> {
  const { layout, server, credentials, nodes } = config;
  // A ~/.kwok/kwok.yaml would be loaded on top of --config: kwok gets a home of its own.
  await mkdir(layout.kwokHome, { recursive: true });
  return startControlPlaneProcess({
    name: 'kwok',
    binary,
    args: [
      `--kubeconfig=${layout.kubeconfig}`,
      `--config=${config.stages}`,
      '--manage-all-nodes=false',
      `--manage-nodes-with-annotation-selector=${kwokNodeAnnotation}=fake`,
      '--node-lease-duration-seconds=40',
      '--cidr=10.244.0.0/16',
    ],
    env: { ...process.env, HOME: layout.kwokHome },
    logFile: join(layout.logs, 'kwok.log'),
    pidFile: layout.pidFiles.kwok,
    ready: async () => (await readySimulatedNodes(server, credentials, nodes)) === nodes,
  });
}
