import { mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  clusterComponents,
  clusterLayout,
  type ClusterComponent,
  type ClusterLayout,
} from './cluster-layout.ts';
import { generateClusterPki, readClientCredentials } from './cluster-pki.ts';
import { writeClusterState } from './cluster-state.ts';
import { locateControlPlaneBinaries, type ControlPlaneBinaries } from './control-plane-binaries.ts';
import type { ControlPlaneProcess, ProcessExit } from './control-plane-process.ts';
import { DevClusterError } from './dev-cluster-error.ts';
import { startEtcd, type EtcdProcess } from './etcd-process.ts';
import { startKubeApiserver, type KubeApiserverConfig, type KubeApiserverProcess } from './kube-apiserver-process.ts';
import { writeKubeconfig } from './kubeconfig-file.ts';
import { startNodeComponents, type NodeComponents } from './node-components.ts';
import { livePid, stopRecordedProcess, writePidFile } from './pid-file.ts';

/** Options of `startDevCluster`. */
export interface DevClusterOptions {
  /** Cluster dir. Default: a fresh dir under `$TMPDIR/kedge-dev-clusters/`, removed entirely by `stop()`. */
  dir?: string;
  /**
   * Simulated nodes. 0 (the default): etcd and kube-apiserver only, nothing acts on what is applied. 1 or
   * more: also kube-controller-manager, kube-scheduler and kwok with that many nodes, so pods run (as
   * simulated), Deployments roll out, Jobs complete and deletions cascade.
   */
  nodes?: number;
  /** Default: `locateControlPlaneBinaries({ nodes: nodes > 0 })` (may build, minutes). */
  binaries?: ControlPlaneBinaries;
  /** Build and start-up progress, one line at a time. */
  onProgress?: (line: string) => void;
}

/** A running control plane: etcd + kube-apiserver, and with nodes the components that run workloads. */
export interface DevCluster {
  /** Admin kubeconfig (system:masters), self-contained. */
  kubeconfigPath: string;
  /** `https://127.0.0.1:<port>` */
  server: string;
  dir: string;
  /** Simulated nodes (0: none, and no controller-manager, scheduler or kwok). */
  nodes: number;
  /** Pid of each running process (also its process group). */
  pids: Partial<Record<ClusterComponent, number>> & { etcd: number; kubeApiserver: number };
  /** Resolves when any of the cluster's processes ends without `stop()` (or a restart) having caused it. */
  exited: Promise<ProcessExit>;
  /**
   * Stops kube-apiserver (SIGTERM, as a rolling restart of a control plane does) and starts it again on the same
   * port with the same etcd, resolving once it serves again: watches and connections of clients break and must
   * resume. For tests of what clients do through an API server restart.
   */
  restartKubeApiserver(): Promise<void>;
  /**
   * Ends every process group, the last started first (SIGTERM, then SIGKILL), frees their ports and removes
   * etcd's data, the pid files and the kubeconfig (or the whole dir when it was a temporary one). Safe to
   * call twice.
   */
  stop(): Promise<void>;
}

/** Parent of the temporary cluster dirs; abandoned ones (their owner died) are reaped at each start. */
export const temporaryClustersRoot = join(tmpdir(), 'kedge-dev-clusters');

/**
 * Starts a control plane owned by this process: kills processes left in `dir` by a crashed run, generates
 * certificates, starts etcd then kube-apiserver on free loopback ports, waits for `/readyz` and the
 * `default` namespace, and writes the kubeconfig; with `nodes`, then starts the node components (see
 * `startNodeComponents`) and waits until the nodes are Ready. On failure nothing is left running.
 * Throws `DevClusterError`; when another live process owns `dir` it throws without touching anything.
 */
export async function startDevCluster(options: DevClusterOptions = {}): Promise<DevCluster> {
  const temporary = options.dir === undefined;
  if (temporary) await reapAbandonedClusters();
  if (temporary) await mkdir(temporaryClustersRoot, { recursive: true });
  const dir = options.dir ?? (await mkdtemp(join(temporaryClustersRoot, 'run-')));
  const layout = clusterLayout(dir);
  await mkdir(layout.logs, { recursive: true });
  const owner = await livePid(layout.pidFiles.owner, dir).catch(() => undefined);
  if (owner !== undefined && owner !== process.pid) {
    throw new DevClusterError(
      'ProcessFailed',
      `a dev cluster in ${dir} is owned by running process ${owner}`,
    );
  }
  await stopStaleProcesses(layout);
  await writePidFile(layout.pidFiles.owner, process.pid);
  const startedAt = new Date().toISOString();
  await writeClusterState(layout.state, { phase: 'starting', startedAt });

  const nodes = options.nodes ?? 0;
  const binaries =
    options.binaries ??
    (await locateControlPlaneBinaries({ onProgress: options.onProgress, nodes: nodes > 0 }));
  const running: ControlPlaneProcess[] = [];
  let stopping = false;
  const stop = async (): Promise<void> => {
    stopping = true;
    for (const child of running.toReversed()) await child.stop();
    await cleanUp(layout, temporary);
  };
  let apiserver: KubeApiserverProcess;
  let etcd: EtcdProcess;
  let nodeComponents: NodeComponents | undefined;
  let apiserverConfig: KubeApiserverConfig;
  try {
    const pki = await generateClusterPki(layout.pki);
    const credentials = await readClientCredentials(pki);
    options.onProgress?.(`starting etcd (${binaries.etcd})`);
    etcd = await startEtcd(layout, binaries.etcd);
    running.push(etcd);
    options.onProgress?.(`starting kube-apiserver (${binaries.kubeApiserver})`);
    apiserverConfig = { layout, pki, credentials, etcdUrl: etcd.clientUrl, withControllers: nodes > 0 };
    apiserver = await startKubeApiserver(apiserverConfig, binaries.kubeApiserver);
    running.push(apiserver);
    await writeKubeconfig(layout.kubeconfig, apiserver.server, credentials);
    if (nodes > 0) {
      nodeComponents = await startNodeComponents({
        layout,
        pki,
        credentials,
        server: apiserver.server,
        binaries,
        nodes,
        onProgress: options.onProgress,
        started: (child) => running.push(child),
      });
    }
    await writeClusterState(layout.state, {
      phase: 'ready',
      server: apiserver.server,
      kubeconfigPath: layout.kubeconfig,
      startedAt,
      readyAt: new Date().toISOString(),
      nodes,
      ports: {
        kubeApiserver: apiserver.port,
        etcdClient: etcd.clientPort,
        etcdPeer: etcd.peerPort,
        ...nodeComponents?.ports,
      },
    });
  } catch (error) {
    await stop();
    if (!temporary)
      await writeClusterState(layout.state, { phase: 'failed', startedAt, error: String(error) });
    throw error;
  }
  let reportExit: (exit: ProcessExit) => void = () => {};
  const exited = new Promise<ProcessExit>((resolve) => (reportExit = resolve));
  const replaced = new Set<ControlPlaneProcess>();
  const watchExit = (child: ControlPlaneProcess) =>
    void child.exited.then((exit) => {
      if (!stopping && !replaced.has(child)) reportExit(exit);
    });
  running.forEach(watchExit);
  const pids = { etcd: etcd.pid, kubeApiserver: apiserver.pid, ...nodeComponents?.pids };
  return {
    kubeconfigPath: layout.kubeconfig,
    server: apiserver.server,
    dir,
    nodes,
    pids,
    exited,
    stop,
    restartKubeApiserver: async () => {
      replaced.add(apiserver);
      await apiserver.stop();
      const next = await startKubeApiserver({ ...apiserverConfig, port: apiserver.port }, binaries.kubeApiserver);
      running.splice(running.indexOf(apiserver), 1, next);
      apiserver = next;
      pids.kubeApiserver = next.pid;
      watchExit(next);
    },
  };
}

/** Stops the cluster processes recorded in `layout` by an earlier run that did not clean up, last started first. */
export async function stopStaleProcesses(layout: ClusterLayout): Promise<number[]> {
  const stopped: number[] = [];
  for (const component of clusterComponents.toReversed()) {
    const pid = await stopRecordedProcess(layout.pidFiles[component], layout.dir);
    if (pid !== undefined) stopped.push(pid);
  }
  return stopped;
}

async function cleanUp(layout: ClusterLayout, temporary: boolean): Promise<void> {
  if (temporary) {
    await rm(layout.dir, { recursive: true, force: true });
    return;
  }
  await rm(layout.etcdData, { recursive: true, force: true });
  await rm(layout.kubeconfig, { force: true });
  for (const component of clusterComponents) await rm(layout.pidFiles[component], { force: true });
  await rm(layout.pidFiles.owner, { force: true });
}

// A dir younger than this without an owner may be one another run is just setting up.
const setUpGraceMs = 60_000;

async function reapAbandonedClusters(): Promise<void> {
  const entries = await readdir(temporaryClustersRoot).catch(() => []);
  for (const entry of entries) {
    const layout = clusterLayout(join(temporaryClustersRoot, entry));
    if ((await livePid(layout.pidFiles.owner)) !== undefined) continue;
    const created = await stat(layout.dir).then(
      (s) => s.mtimeMs,
      () => 0,
    );
    const hasOwner = (await stat(layout.pidFiles.owner).catch(() => undefined)) !== undefined;
    if (!hasOwner && Date.now() - created < setUpGraceMs) continue;
    await stopStaleProcesses(layout);
    await rm(layout.dir, { recursive: true, force: true });
  }
}
