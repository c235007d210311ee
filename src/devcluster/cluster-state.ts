import { readFile, rename, writeFile } from 'node:fs/promises';

/** What `state.json` in a cluster dir says about the current or last run. */
export interface ClusterState {
  phase: 'starting' | 'ready' | 'failed' | 'stopped';
  /** `https://127.0.0.1:<port>` once ready. */
  server?: string;
  kubeconfigPath?: string;
  ports?: {
    kubeApiserver: number;
    etcdClient: number;
    etcdPeer: number;
    kubeControllerManager?: number;
    kubeScheduler?: number;
  };
  /** Simulated nodes asked for (0: no controller-manager, scheduler or kwok). */
  nodes?: number;
  startedAt: string;
  readyAt?: string;
  /** Why the run failed or ended on its own (phase `failed`). */
  error?: string;
}

/** Replaces `path` atomically (write then rename), so readers never see half a file. */
export async function writeClusterState(path: string, state: ClusterState): Promise<void> {
  await writeFile(`${path}.tmp`, `${JSON.stringify(state, null, 2)}\n`);
  await rename(`${path}.tmp`, path);
}

/** The state in `path`, or undefined when there is none or it cannot be parsed. */
export async function readClusterState(path: string): Promise<ClusterState | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as ClusterState;
  } catch {
    return undefined;
  }
}
