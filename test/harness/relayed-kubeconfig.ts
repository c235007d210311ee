import { KubeConfig } from '@kubernetes/client-node';
import { startTcpRelay, type TcpRelay } from './tcp-relay.ts';

/**
 * A TCP relay in front of the API server of `kubeConfig` and a copy of the kubeconfig that goes through it, so
 * a test can make the API server unreachable (`relay.cut()`: connections dropped, new ones refused) and
 * reachable again (`relay.restore()`). The API server's certificate is for 127.0.0.1, whatever the port.
 */
export async function relayedKubeConfig(
  kubeConfig: KubeConfig,
): Promise<{ relay: TcpRelay; kubeConfig: KubeConfig }> {
  const server = new URL(kubeConfig.getCurrentCluster()?.server ?? '');
  const relay = await startTcpRelay({ host: server.hostname, port: Number(server.port) });
  const relayed = new KubeConfig();
  relayed.loadFromOptions({
    clusters: kubeConfig.clusters.map((c) => ({ ...c, server: `https://127.0.0.1:${relay.port}` })),
    users: kubeConfig.users,
    contexts: kubeConfig.contexts,
    currentContext: kubeConfig.currentContext,
  });
  return { relay, kubeConfig: relayed };
}
