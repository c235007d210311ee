import { clusterComponents, clusterLayout, type ClusterComponent } from './cluster-layout.ts';
import { readClusterState, type ClusterState } from './cluster-state.ts';
import { livePid } from './pid-file.ts';

/** What `kedge dev cluster status` reports about the cluster in a dir. */
export interface DevClusterStatus {
  dir: string;
  /** True when the owning process is alive and the cluster reached `ready`. */
  running: boolean;
  /** `absent` when the dir holds no cluster state at all. */
  phase: ClusterState['phase'] | 'absent';
  server?: string;
  kubeconfigPath?: string;
  /** Loopback ports in use while it runs. */
  ports?: ClusterState['ports'];
  /** Simulated nodes of the current or last run (0: no controller-manager, scheduler or kwok). */
  nodes: number;
  /** Pids of the processes that are alive right now; the owner is the supervisor (or a test run). */
  pids: { owner?: number } & Partial<Record<ClusterComponent, number>>;
  /** Why the last run failed, when it did. */
  error?: string;
}

/**
 * Reads the status of the cluster in `dir` from its state file and pid files, checking that each recorded
 * process is alive and belongs to this dir (its command line mentions it). Never changes anything.
 */
export async function readDevClusterStatus(dir: string): Promise<DevClusterStatus> {
  const layout = clusterLayout(dir);
  const state = await readClusterState(layout.state);
  const pids: DevClusterStatus['pids'] = { owner: await livePid(layout.pidFiles.owner, dir) };
  for (const component of clusterComponents) pids[component] = await livePid(layout.pidFiles[component], dir);
  const alive = pids.owner !== undefined;
  const phase = state?.phase ?? 'absent';
  return {
    dir,
    running: alive && phase === 'ready',
    // A starting or ready state whose owner died is a crashed run, not a live one.
    phase: !alive && (phase === 'ready' || phase === 'starting') ? 'stopped' : phase,
    server: alive ? state?.server : undefined,
    kubeconfigPath: alive ? state?.kubeconfigPath : undefined,
    ports: alive ? state?.ports : undefined,
    nodes: state?.nodes ?? 0,
    pids: Object.fromEntries(Object.entries(pids).filter(([, pid]) => pid !== undefined)),
    error: state?.error,
  };
}
