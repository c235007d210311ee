import { join } from 'node:path';
import { httpsGet, type ClientCredentials } from './api-probe.ts';
import type { ClusterLayout } from './cluster-layout.ts';
import type { ClusterPki } from './cluster-pki.ts';
import { startControlPlaneProcess, type ControlPlaneProcess } from './control-plane-process.ts';
import { DevClusterError } from './dev-cluster-error.ts';
import { freeLoopbackPort } from './free-port.ts';

/** A running kube-apiserver whose `/readyz` passed and whose `default` namespace exists. */
export interface KubeApiserverProcess extends ControlPlaneProcess {
  /** `https://127.0.0.1:<port>` */
  server: string;
  port: number;
}

/** Everything kube-apiserver is started with besides the binary. */
export interface KubeApiserverConfig {
  layout: ClusterLayout;
  pki: ClusterPki;
  credentials: ClientCredentials;
  etcdUrl: string;
  /** A controller-manager will run: enable the ServiceAccount admission plugin, as on a real cluster. */
  withControllers?: boolean;
  /** Serve on this port (a restart keeps its port, so clients reconnect); default a free one. */
  port?: number;
}

const attempts = 3;

/**
 * Starts kube-apiserver on a free port bound to 127.0.0.1 only, with RBAC, client-certificate auth against
 * the dev CA, service-account signing keys, and ServiceAccount admission only `withControllers` (without a
 * controller-manager no namespace gets its `default` ServiceAccount, and every pod would be refused). Resolves when `/readyz` answers 200 and the `default` namespace exists (up to 120 s).
 */
export async function startKubeApiserver(
  config: KubeApiserverConfig,
  binary: string,
): Promise<KubeApiserverProcess> {
  let lastError: unknown;
  for (let attempt = 1; attempt <= (config.port === undefined ? attempts : 1); attempt++) {
    const port = config.port ?? (await freeLoopbackPort());
    const server = `https://127.0.0.1:${port}`;
    try {
      const started = await startControlPlaneProcess({
        name: 'kube-apiserver',
        binary,
        args: apiserverArgs(config, port),
        logFile: join(config.layout.logs, 'kube-apiserver.log'),
        pidFile: config.layout.pidFiles.kubeApiserver,
        timeoutMs: 120_000,
        ready: async () =>
          (await httpsGet(`${server}/readyz`, config.credentials)).status === 200 &&
          (await httpsGet(`${server}/api/v1/namespaces/default`, config.credentials)).status === 200,
      });
      return { ...started, server, port };
    } catch (error) {
      lastError = error;
      if (!(error instanceof DevClusterError) || !/address already in use/.test(error.message)) throw error;
    }
  }
  throw lastError instanceof Error
    ? lastError
    : new DevClusterError('ProcessFailed', 'kube-apiserver could not bind a free port');
}

function apiserverArgs(
  { layout, pki, etcdUrl, withControllers }: KubeApiserverConfig,
  port: number,
): string[] {
  return [
    `--etcd-servers=${etcdUrl}`,
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    `--secure-port=${port}`,
    `--cert-dir=${layout.pki}`,
    `--tls-cert-file=${pki.servingCert}`,
    `--tls-private-key-file=${pki.servingKey}`,
    `--client-ca-file=${pki.caCert}`,
    '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
    `--service-account-key-file=${pki.serviceAccountPublicKey}`,
    `--service-account-signing-key-file=${pki.serviceAccountKey}`,
    '--authorization-mode=RBAC',
    '--service-cluster-ip-range=10.0.0.0/24',
    ...(withControllers ? [] : ['--disable-admission-plugins=ServiceAccount']),
    '--allow-privileged=true',
    '--profiling=false',
  ];
}
