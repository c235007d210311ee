import { join } from 'node:path';
import { httpsGet, type ClientCredentials } from './api-probe.ts';
import { componentNames, type ClusterLayout } from './cluster-layout.ts';
import type { ClusterPki } from './cluster-pki.ts';
import { startControlPlaneProcess, type ControlPlaneProcess } from './control-plane-process.ts';
import { withFreeLoopbackPort } from './free-port.ts';

/** A running kube-controller-manager or kube-scheduler whose `/healthz` answered 200. */
export interface KubeComponentProcess extends ControlPlaneProcess {
  /** Its HTTPS port on 127.0.0.1 (health and metrics). */
  port: number;
}

/** What a Kubernetes component of the dev cluster is started with besides its own flags. */
export interface KubeComponentConfig {
  layout: ClusterLayout;
  pki: ClusterPki;
  credentials: ClientCredentials;
}

/**
 * Starts kube-controller-manager or kube-scheduler (`component`) with `args` and what both need: the admin
 * kubeconfig for its API calls and for delegated authentication and authorization, no leader election (one
 * replica), and an HTTPS endpoint on a free port bound to 127.0.0.1 only, serving with the API server's
 * certificate (valid for 127.0.0.1, signed by the dev CA) and trusting the dev CA for clients. Resolves when
 * `/healthz` answers 200 (up to 60 s); a port taken meanwhile is retried with a new one.
 */
export async function startKubeComponent(
  config: KubeComponentConfig,
  component: 'kubeControllerManager' | 'kubeScheduler',
  binary: string,
  args: string[],
): Promise<KubeComponentProcess> {
  const { layout, pki, credentials } = config;
  const name = componentNames[component];
  return withFreeLoopbackPort(async (port) => {
    const started = await startControlPlaneProcess({
      name,
      binary,
      args: [
        `--kubeconfig=${layout.kubeconfig}`,
        `--authentication-kubeconfig=${layout.kubeconfig}`,
        `--authorization-kubeconfig=${layout.kubeconfig}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${port}`,
        `--tls-cert-file=${pki.servingCert}`,
        `--tls-private-key-file=${pki.servingKey}`,
        `--client-ca-file=${pki.caCert}`,
        '--leader-elect=false',
        '--profiling=false',
        ...args,
      ],
      logFile: join(layout.logs, `${name}.log`),
      pidFile: layout.pidFiles[component],
      ready: async () => (await httpsGet(`https://127.0.0.1:${port}/healthz`, credentials)).status === 200,
    });
    return { ...started, port };
  });
}

/**
 * kube-controller-manager with every default controller (deployments, replicasets, jobs, HPAs, garbage
 * collector, namespaces, service accounts and their tokens, endpoints, nodes' lifecycle, …), signing
 * service-account tokens and CSRs with the dev cluster's keys.
 */
export function startKubeControllerManager(
  config: KubeComponentConfig,
  binary: string,
): Promise<KubeComponentProcess> {
  const { pki } = config;
  return startKubeComponent(config, 'kubeControllerManager', binary, [
    '--controllers=*',
    '--cluster-name=kedge-dev',
    `--service-account-private-key-file=${pki.serviceAccountKey}`,
    `--root-ca-file=${pki.caCert}`,
    `--cluster-signing-cert-file=${pki.caCert}`,
    `--cluster-signing-key-file=${pki.caKey}`,
    '--use-service-account-credentials=false',
  ]);
}

/** kube-scheduler with its default profile: places pods on the simulated nodes. */
export function startKubeScheduler(
  config: KubeComponentConfig,
  binary: string,
): Promise<KubeComponentProcess> {
  return startKubeComponent(config, 'kubeScheduler', binary, []);
}
