import { httpsGet, httpsRequest, type ClientCredentials } from './api-probe.ts';
import { DevClusterError } from './dev-cluster-error.ts';

/** The annotation kwok is told to manage nodes by (`--manage-nodes-with-annotation-selector`). */
export const kwokNodeAnnotation = 'kwok.x-k8s.io/node';

/** Name of the `index`-th simulated node: `kedge-node-0`, `kedge-node-1`, … */
export function simulatedNodeName(index: number): string {
  return `kedge-node-${index}`;
}

/**
 * The Node object of a simulated node: annotated for kwok, labelled like a Linux/amd64 node, no taint (so
 * that ordinary workloads schedule on it, as on a real dev cluster), with room for 32 CPUs, 256 GiB and
 * 1,000 pods. kwok fills in its conditions and keeps its lease alive.
 */
export function simulatedNode(index: number): object {
  const name = simulatedNodeName(index);
  const resources = { cpu: '32', memory: '256Gi', pods: '1000' };
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      annotations: { [kwokNodeAnnotation]: 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
      labels: {
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        type: 'kwok',
      },
    },
    spec: {},
    status: { allocatable: resources, capacity: resources },
  };
}

/** Creates nodes `0 … count-1` through the API server at `server` (an existing one is left as it is). */
export async function createSimulatedNodes(
  server: string,
  credentials: ClientCredentials,
  count: number,
): Promise<void> {
  for (let index = 0; index < count; index++) {
    const res = await httpsRequest('POST', `${server}/api/v1/nodes`, credentials, {
      body: simulatedNode(index),
    });
    if (res.status !== 201 && res.status !== 409) {
      throw new DevClusterError(
        'ProcessFailed',
        `cannot create node ${simulatedNodeName(index)} (HTTP ${res.status}): ${res.body.slice(0, 500)}`,
      );
    }
  }
}

/** How many of nodes `0 … count-1` have the condition Ready=True. */
export async function readySimulatedNodes(
  server: string,
  credentials: ClientCredentials,
  count: number,
): Promise<number> {
  const res = await httpsGet(`${server}/api/v1/nodes?labelSelector=type%3Dkwok`, credentials);
  if (res.status !== 200) return 0;
  const names = new Set(Array.from({ length: count }, (_, i) => simulatedNodeName(i)));
  const items = (JSON.parse(res.body) as { items?: NodeLike[] }).items ?? [];
  return items.filter(
    (node) =>
      names.has(node.metadata?.name ?? '') &&
      node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
  ).length;
}

interface NodeLike {
  metadata?: { name?: string };
  status?: { conditions?: { type?: string; status?: string }[] };
}
