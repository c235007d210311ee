import type {
  KubernetesObject,
  V1Deployment,
  V1Job,
  V1PodList,
  V1ReplicaSetList,
} from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { eventually } from './harness/eventually.ts';
import { kubeTestContext } from './harness/kube.ts';

/*
 * What a cluster with nodes does that the API server alone does not: kube-controller-manager, kube-scheduler and
 * kwok (two simulated nodes) act on what is applied, as a real cluster would.
 */
const kube = kubeTestContext({ nodes: 2 });

const deploymentOf = (namespace: string, replicas: number): KubernetesObject & V1Deployment => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web', namespace },
  spec: {
    replicas,
    selector: { matchLabels: { app: 'web' } },
    template: {
      metadata: { labels: { app: 'web' } },
      spec: { containers: [{ name: 'web', image: 'nginx:1.27' }] },
    },
  },
});

const pods = async (namespace: string): Promise<V1PodList['items']> =>
  (await kube.core.listNamespacedPod({ namespace })).items;

describe('a dev cluster with simulated nodes', () => {
  it('schedules the pods of a Deployment on Ready nodes, runs them, and the Deployment becomes Available', async () => {
    const ns = kube.namespace();
    const nodes = (await kube.core.listNode()).items;
    expect(
      nodes
        .map((n) => [n.metadata?.name, n.status?.conditions?.find((c) => c.type === 'Ready')?.status])
        .sort(),
    ).toEqual([
      ['kedge-node-0', 'True'],
      ['kedge-node-1', 'True'],
    ]);

    await kube.apply(deploymentOf(ns, 3));
    const available = await eventually(
      async () => {
        const read = await kube.objects.read<V1Deployment>({
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          metadata: { name: 'web', namespace: ns },
        });
        return read.status?.availableReplicas === 3 ? read : undefined;
      },
      { what: 'the Deployment to have 3 available replicas', timeoutMs: 60_000 },
    );
    expect(available.status?.conditions?.find((c) => c.type === 'Available')?.status).toBe('True');
    const running = await pods(ns);
    expect(running).toHaveLength(3);
    for (const pod of running) {
      expect(pod.status?.phase).toBe('Running');
      expect(pod.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
      expect(['kedge-node-0', 'kedge-node-1']).toContain(pod.spec?.nodeName);
      expect(pod.status?.podIP).toMatch(/^10\.244\./);
      // ServiceAccount admission and the token controller work: every pod gets its token volume.
      expect(pod.spec?.serviceAccountName).toBe('default');
      expect(pod.spec?.volumes?.some((v) => v.projected?.sources?.some((s) => s.serviceAccountToken))).toBe(
        true,
      );
    }
  });

  it('runs a Job to completion', async () => {
    const ns = kube.namespace();
    const job: KubernetesObject & V1Job = {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: 'once', namespace: ns },
      spec: {
        template: { spec: { restartPolicy: 'Never', containers: [{ name: 'once', image: 'busybox:1.37' }] } },
      },
    };
    await kube.apply(job);
    const done = await eventually(
      async () => {
        const read = await kube.objects.read<V1Job>({
          apiVersion: 'batch/v1',
          kind: 'Job',
          metadata: { name: 'once', namespace: ns },
        });
        return read.status?.conditions?.some((c) => c.type === 'Complete' && c.status === 'True')
          ? read
          : undefined;
      },
      { what: 'the Job to complete', timeoutMs: 60_000 },
    );
    expect(done.status?.succeeded).toBe(1);
    expect((await pods(ns)).map((p) => p.status?.phase)).toEqual(['Succeeded']);
  });

  it('deleting a Deployment deletes its ReplicaSet and pods (garbage collection)', async () => {
    const ns = kube.namespace();
    await kube.apply(deploymentOf(ns, 2));
    await eventually(async () => (await pods(ns)).filter((p) => p.status?.phase === 'Running').length === 2, {
      what: 'two running pods',
      timeoutMs: 60_000,
    });

    await kube.objects.delete(deploymentOf(ns, 2));
    await eventually(
      async () => {
        const sets = (await kube.objects.list('apps/v1', 'ReplicaSet', ns)) as V1ReplicaSetList;
        return sets.items.length === 0 && (await pods(ns)).length === 0;
      },
      { what: 'the ReplicaSet and pods to be deleted', timeoutMs: 60_000 },
    );
  });

  it('deleting a Namespace removes what it holds and then the Namespace itself', async () => {
    const ns = `${kube.namespace()}-gone`;
    await kube.core.createNamespace({ body: { metadata: { name: ns } } });
    await kube.apply(deploymentOf(ns, 1));
    await kube.apply({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'settings', namespace: ns },
      data: { a: 'b' },
    });
    await eventually(async () => (await pods(ns)).some((p) => p.status?.phase === 'Running'), {
      what: 'a running pod',
      timeoutMs: 60_000,
    });

    await kube.core.deleteNamespace({ name: ns });
    await eventually(
      async () =>
        kube.core.readNamespace({ name: ns }).then(
          () => false,
          (error: { code?: number }) => error.code === 404,
        ),
      { what: `namespace ${ns} to be gone`, timeoutMs: 60_000 },
    );
  });
});
