import { homedir } from 'node:os';
import { join } from 'node:path';

/** Where a dev cluster keeps its files. Every path is inside `dir`. */
export interface ClusterLayout {
  dir: string;
  /** CA, serving and client certificates, service-account keys. */
  pki: string;
  /** etcd's data directory; removed when the cluster stops. */
  etcdData: string;
  /** One log file per process: `etcd.log`, `kube-apiserver.log`, …, `supervisor.log`. */
  logs: string;
  kubeconfig: string;
  /** `state.json`: phase, server URL and ports of the current or last run. */
  state: string;
  /** Home dir of kwok, so that a `~/.kwok/kwok.yaml` of the user is not loaded on top of the cluster's stages. */
  kwokHome: string;
  /** Pid files: the owning process (test run or supervisor) and each process group leader. */
  pidFiles: { owner: string } & Record<ClusterComponent, string>;
}

/** The processes of a dev cluster, in start order; the last three run only in a cluster with nodes. */
export const clusterComponents = [
  'etcd',
  'kubeApiserver',
  'kubeControllerManager',
  'kubeScheduler',
  'kwok',
] as const;
export type ClusterComponent = (typeof clusterComponents)[number];

/** The name each component's binary, log file and messages carry. */
export const componentNames: Record<ClusterComponent, string> = {
  etcd: 'etcd',
  kubeApiserver: 'kube-apiserver',
  kubeControllerManager: 'kube-controller-manager',
  kubeScheduler: 'kube-scheduler',
  kwok: 'kwok',
};

/** The file layout of the cluster in `dir`. Pure: creates nothing. */
export function clusterLayout(dir: string): ClusterLayout {
  return {
    dir,
    pki: join(dir, 'pki'),
    etcdData: join(dir, 'etcd-data'),
    logs: join(dir, 'logs'),
    kubeconfig: join(dir, 'kubeconfig'),
    state: join(dir, 'state.json'),
    kwokHome: join(dir, 'kwok'),
    pidFiles: {
      owner: join(dir, 'owner.pid'),
      ...(Object.fromEntries(
        clusterComponents.map((c) => [c, join(dir, `${componentNames[c]}.pid`)]),
      ) as Record<ClusterComponent, string>),
    },
  };
}

/** `${XDG_STATE_HOME:-~/.local/state}/kedge/dev-cluster`: where `kedge dev cluster up` keeps its cluster. */
export function defaultDevClusterDir(env: NodeJS.ProcessEnv = process.env): string {
  const stateHome = env.XDG_STATE_HOME || join(homedir(), '.local', 'state');
  return join(stateHome, 'kedge', 'dev-cluster');
}
