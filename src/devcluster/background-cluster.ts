import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { clusterLayout } from './cluster-layout.ts';
import { readClusterState, writeClusterState } from './cluster-state.ts';
import type { ControlPlaneBinaries } from './control-plane-binaries.ts';
import { logTail } from './control-plane-process.ts';
import { DevClusterError } from './dev-cluster-error.ts';
import { readDevClusterStatus, type DevClusterStatus } from './dev-cluster-status.ts';
import { stopStaleProcesses } from './dev-cluster.ts';
import { livePid, writePidFile } from './pid-file.ts';
import { isProcessAlive, stopProcessGroup } from '../host/process-identity.ts';
import { recordStartedProcess } from '../host/tracked-process-hook.ts';
import { nodeEntryArgs } from '../package-paths.ts';

/** Outcome of `startBackgroundCluster`. */
export interface BackgroundStart {
  /** False when a cluster was already running (or starting) in the dir and nothing was started. */
  started: boolean;
  status: DevClusterStatus;
}

/**
 * Starts a detached supervisor (its own session, surviving the caller) that runs the cluster in `dir` with
 * `nodes` simulated nodes (default 0; `binaries` must then hold the node components), and waits until the
 * cluster is ready (up to `timeoutMs`, default 180 s). If a live cluster already owns `dir`, starts nothing.
 * When the supervisor gives up, throws `DevClusterError` quoting the end of its log.
 */
export async function startBackgroundCluster(
  dir: string,
  binaries: ControlPlaneBinaries,
  { timeoutMs = 180_000, nodes = 0 }: { timeoutMs?: number; nodes?: number } = {},
): Promise<BackgroundStart> {
  const current = await readDevClusterStatus(dir);
  if (current.pids.owner !== undefined) return { started: false, status: current };
  const layout = clusterLayout(dir);
  await mkdir(layout.logs, { recursive: true });
  await writeClusterState(layout.state, { phase: 'starting', startedAt: new Date().toISOString(), nodes });
  const logFile = join(layout.logs, 'supervisor.log');
  const log = openSync(logFile, 'a');
  const child = (() => {
    try {
      return spawn(
        process.execPath,
        [...nodeEntryArgs('supervisor-main'), dir, binaries.dir, String(nodes)],
        { detached: true, stdio: ['ignore', log, log], cwd: dir },
      );
    } finally {
      closeSync(log);
    }
  })();
  child.unref();
  recordStartedProcess(child.pid, `dev cluster supervisor of ${dir}`);
  if (child.pid === undefined)
    throw new DevClusterError('ProcessFailed', `cannot start the supervisor for ${dir}`);
  await writePidFile(layout.pidFiles.owner, child.pid);
  const pid = child.pid;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const state = await readClusterState(layout.state);
    if (state?.phase === 'ready' && isProcessAlive(pid))
      return { started: true, status: await readDevClusterStatus(dir) };
    if (!isProcessAlive(pid) || state?.phase === 'failed' || Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await stopBackgroundCluster(dir);
  throw new DevClusterError(
    'ProcessFailed',
    `the dev cluster in ${dir} did not become ready; last lines of ${logFile}:\n${await logTail(logFile)}`,
  );
}

/** Outcome of `stopBackgroundCluster`. */
export interface BackgroundStop {
  /** False when nothing of the cluster was running. */
  wasRunning: boolean;
  /** Every process (supervisor, etcd, kube-apiserver, …) that was stopped. */
  stoppedPids: number[];
}

/**
 * Stops the cluster in `dir`: SIGTERM to the supervisor (which stops the cluster's processes and cleans
 * up), SIGKILL after 30 s, then ends any process of this cluster that is still alive and removes
 * etcd's data, the kubeconfig, the pid files and the state. Logs stay. Safe to call when nothing runs.
 */
export async function stopBackgroundCluster(dir: string): Promise<BackgroundStop> {
  const layout = clusterLayout(dir);
  const stoppedPids: number[] = [];
  const owner = await livePid(layout.pidFiles.owner, dir);
  if (owner !== undefined) {
    await stopProcessGroup(owner, { graceMs: 30_000 });
    stoppedPids.push(owner);
  }
  stoppedPids.push(...(await stopStaleProcesses(layout)));
  await rm(layout.etcdData, { recursive: true, force: true });
  await rm(layout.kubeconfig, { force: true });
  await rm(layout.state, { force: true });
  await rm(layout.pidFiles.owner, { force: true });
  return { wasRunning: stoppedPids.length > 0, stoppedPids };
}
