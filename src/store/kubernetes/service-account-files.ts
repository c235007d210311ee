import { join } from 'node:path';

/** Where Kubernetes mounts a pod's service account (token, ca.crt, namespace). */
const mountPath = '/var/run/secrets/kubernetes.io/serviceaccount';

/**
 * The directory standing for the pod's root when the service account's files are read: `KEDGE_IN_CLUSTER_ROOT`,
 * else `/`. It lets the container's command run outside a pod (a test against a local control plane) with the
 * files laid out as a pod has them, under `<root>/var/run/secrets/kubernetes.io/serviceaccount/`.
 */
export function inClusterRoot(env: NodeJS.ProcessEnv = process.env): string {
  return env.KEDGE_IN_CLUSTER_ROOT || '/';
}

/** The path of one of the service account's files. */
export function serviceAccountFile(file: 'token' | 'ca.crt' | 'namespace', env = process.env): string {
  return join(inClusterRoot(env), mountPath, file);
}

/** The path prefix client-node's `loadFromCluster` puts before the mount path ('' for `/`). */
export function inClusterPathPrefix(env = process.env): string {
  const root = inClusterRoot(env);
  return root === '/' ? '' : root.replace(/\/+$/, '');
}
