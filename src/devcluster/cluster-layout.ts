import { homedir } from 'node:os';
import { join } from 'node:path';

/** Where a dev cluster keeps its files. Every path is inside `dir`. */
export interface ClusterLayout {
  dir: string;
  /** CA, serving and client certificates, service-account keys. */
  pki: string;
  /** etcd's data directory; removed when the cluster stops. */
  etcdData: string;
  /** One log file per process: `etcd.log`, `kube-apiserver.log`, `supervisor.log`. */
  logs: string;
  kubeconfig: string;
  /** `state.json`: phase, server URL and ports of the current or last run. */
  state: string;
  /** Pid files: the owning process (test run or supervisor) and each process group leader. */
  pidFiles: { owner: string; etcd: string; kubeApiserver: string };
}

/** The file layout of the cluster in `dir`. Pure: creates nothing. */
export function clusterLayout(dir: string): ClusterLayout {
  return {
    dir,
    pki: join(dir, 'pki'),
    etcdData: join(dir, 'etcd-data'),
    logs: join(dir, 'logs'),
    kubeconfig: join(dir, 'kubeconfig'),
    state: join(dir, 'state.json'),
    pidFiles: { owner: join(dir, 'owner.pid'), etcd: join(dir, 'etcd.pid'), kubeApiserver: join(dir, 'kube-apiserver.pid') },
  };
}

/** `${XDG_STATE_HOME:-~/.local/state}/kedge/dev-cluster`: where `kedge dev cluster up` keeps its cluster. */
export function defaultDevClusterDir(env: NodeJS.ProcessEnv = process.env): string {
  const stateHome = env.XDG_STATE_HOME || join(homedir(), '.local', 'state');
  return join(stateHome, 'kedge', 'dev-cluster');
}
