import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import type { V1Deployment, V1ReplicaSetList } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import type { Condition } from '../src/api/meta.ts';
import { appliedCommit, eventMessages, fetchNow, ks, statusOf } from './fixtures/kustomization/helpers.ts';
import { gitAndKustomization } from './fixtures/kustomization/app-files.ts';
import { eventually } from './harness/eventually.ts';
import { createRepo, type TestRepo } from './harness/git-repo.ts';
import { kubeTestContext } from './harness/kube.ts';
import { startTestEngine, type TestEngine } from './harness/test-engine.ts';

/*
 * Rollouts on a cluster that runs workloads: a controller-manager, a scheduler and one node simulated by kwok
 * (pods go Running and Ready without a kubelet). What Kedge reports is what the cluster really did.
 */
const kube = kubeTestContext({ nodes: 1 });

/** The label kwok's chaos stage looks for: the pod's containers fail about a second after it runs. */
const failLabel = 'pod-container-running-failed.stage.kwok.x-k8s.io';

interface WebOptions {
  image?: string;
  replicas?: number;
  /** Seconds a pod must stay Ready to count as available (makes a rollout last long enough to be seen). */
  minReadySeconds?: number;
  /** Pods fail through kwok's chaos stage. */
  failing?: boolean;
  /** Put the Deployment in a Namespace of its own, applied by the same Kustomization. */
  ownNamespace?: string;
}

function webFiles(ns: string, options: WebOptions = {}): Record<string, string | null> {
  const namespace = options.ownNamespace ?? ns;
  const podLabels = options.failing ? `{app: web, ${failLabel}: "true"}` : '{app: web}';
  return {
    'deploy/kustomization.yaml': `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
${options.ownNamespace ? '  - namespace.yaml\n' : ''}  - deployment.yaml
`,
    'deploy/namespace.yaml': options.ownNamespace
      ? `apiVersion: v1\nkind: Namespace\nmetadata: {name: ${options.ownNamespace}}\n`
      : null,
    'deploy/deployment.yaml': `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: ${namespace}}
spec:
  replicas: ${options.replicas ?? 2}
  minReadySeconds: ${options.minReadySeconds ?? 0}
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: ${podLabels}}
    spec:
      containers:
        - name: web
          image: ${options.image ?? 'nginx:1.27'}
`,
  };
}

const deployment = (namespace: string): Promise<V1Deployment> =>
  kube.objects.read<V1Deployment>({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace },
  });

async function replicaSets(
  namespace: string,
): Promise<{ image: string; replicas: number; available: number }[]> {
  const list = (await kube.objects.list('apps/v1', 'ReplicaSet', namespace)) as V1ReplicaSetList;
  return list.items
    .map((rs) => ({
      image: rs.spec?.template?.spec?.containers[0]?.image ?? '',
      replicas: rs.spec?.replicas ?? 0,
      available: rs.status?.availableReplicas ?? 0,
    }))
    .sort((a, b) => a.image.localeCompare(b.image));
}

const healthy = (conditions: Condition[] | undefined): Condition | undefined =>
  conditions?.find((c) => c.type === 'Healthy');

describe('Kustomization with wait: true on a cluster with nodes', () => {
  let t: TestEngine | undefined;
  let repo: TestRepo | undefined;
  afterEach(async () => {
    await t?.stop();
    if (repo) rmSync(dirname(repo.dir), { recursive: true, force: true });
    t = undefined;
    repo = undefined;
  });

  const start = async (
    files: Record<string, string | null>,
    spec: string,
  ): Promise<{ t: TestEngine; repo: TestRepo }> => {
    repo = createRepo({ files });
    t = await startTestEngine({ kubeconfig: kube.kubeconfigPath });
    await t.apply(gitAndKustomization('web', repo.url, spec));
    return { t, repo };
  };

  it('is Ready once the Deployment is Available; an image change rolls out and Ready waits for it', async () => {
    const ns = kube.namespace();
    const { t, repo } = await start(
      webFiles(ns, { image: 'nginx:1.27', minReadySeconds: 2 }),
      '  wait: true\n  timeout: 2m\n',
    );

    const first = await appliedCommit(t, 'web', repo.revParse());
    expect(healthy(statusOf(first).conditions)).toMatchObject({ status: 'True', reason: 'Succeeded' });
    const available = await deployment(ns);
    expect(available.status).toMatchObject({
      replicas: 2,
      updatedReplicas: 2,
      readyReplicas: 2,
      availableReplicas: 2,
    });
    expect(available.status?.conditions?.find((c) => c.type === 'Available')?.status).toBe('True');
    const pods = await kube.core.listNamespacedPod({ namespace: ns });
    expect(pods.items.map((p) => [p.status?.phase, p.spec?.nodeName])).toEqual([
      ['Running', 'kedge-node-0'],
      ['Running', 'kedge-node-0'],
    ]);

    // A new image: the Deployment makes a new ReplicaSet and scales the old one down, pod by pod.
    const second = repo.commit(webFiles(ns, { image: 'nginx:1.28', minReadySeconds: 2 }));
    await fetchNow(t, 'web', second);
    // Kedge reports the rollout while it runs: health checks of the new revision in progress, not yet applied.
    const during = await eventually(
      async () => {
        const object = await t.get(ks('web'));
        const check = healthy(statusOf(object).conditions);
        return check?.status === 'Unknown' && check.message.includes(second) ? object : undefined;
      },
      { what: `health checks of ${second} in progress` },
    );
    expect(statusOf(during).lastAppliedRevision).not.toContain(second);

    const rolled = await appliedCommit(t, 'web', second);
    // Ready=True only once the rollout is complete: the new ReplicaSet available, the old one scaled to zero.
    expect(await replicaSets(ns)).toEqual([
      { image: 'nginx:1.27', replicas: 0, available: 0 },
      { image: 'nginx:1.28', replicas: 2, available: 2 },
    ]);
    expect((await deployment(ns)).status).toMatchObject({
      replicas: 2,
      updatedReplicas: 2,
      availableReplicas: 2,
    });
    expect(healthy(statusOf(rolled).conditions)).toMatchObject({ status: 'True', reason: 'Succeeded' });
    expect(await eventMessages(t, 'web')).toContainEqual(
      expect.stringContaining(`Deployment/${ns}/web configured`),
    );
  });

  it('a Deployment whose pods fail keeps the Kustomization Ready=False with HealthCheckFailed naming it', async () => {
    const ns = kube.namespace();
    // minReadySeconds outlasts the second a failing pod stays Ready: the Deployment never becomes available.
    const { t, repo } = await start(
      webFiles(ns, { failing: true, replicas: 1, minReadySeconds: 30 }),
      '  wait: true\n  timeout: 10s\n',
    );

    const failed = await t.waitForReady(
      ks('web'),
      (ready) => ready.status === 'False' && ready.reason === 'HealthCheckFailed',
      60_000,
    );
    const ready = statusOf(failed).conditions?.find((c) => c.type === 'Ready');
    expect(ready?.message).toContain(`Deployment/${ns}/web`);
    expect(healthy(statusOf(failed).conditions)).toMatchObject({
      status: 'False',
      reason: 'HealthCheckFailed',
    });
    expect(statusOf(failed).lastAttemptedRevision).toContain(repo.revParse());
    // The cause is real: kwok failed the pod's container.
    const pods = await kube.core.listNamespacedPod({ namespace: ns });
    expect(
      pods.items.some(
        (p) =>
          p.status?.phase === 'Failed' && p.status.containerStatuses?.[0]?.state?.terminated?.exitCode === 1,
      ),
    ).toBe(true);
    expect((await deployment(ns)).status?.availableReplicas ?? 0).toBe(0);
  });

  it('pruning a Namespace with a running Deployment deletes the Namespace for good', async () => {
    const ns = kube.namespace();
    const own = `${ns}-app`;
    const { t, repo } = await start(
      webFiles(ns, { ownNamespace: own, replicas: 1 }),
      '  wait: true\n  timeout: 2m\n',
    );
    await appliedCommit(t, 'web', repo.revParse());
    expect((await kube.core.listNamespacedPod({ namespace: own })).items.map((p) => p.status?.phase)).toEqual(
      ['Running'],
    );

    // The next commit keeps only a ConfigMap in the test's namespace.
    const removed = repo.commit({
      'deploy/kustomization.yaml':
        'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [config.yaml]\n',
      'deploy/config.yaml': `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: kept, namespace: ${ns}}\n`,
      'deploy/namespace.yaml': null,
      'deploy/deployment.yaml': null,
    });
    await fetchNow(t, 'web', removed);
    const pruned = await appliedCommit(t, 'web', removed);
    expect(statusOf(pruned).inventory?.entries.map((e) => e.id)).toEqual([`${ns}_kept__ConfigMap`]);
    // The namespace controller empties it (kwok removes the deleted pod) and the Namespace is gone.
    await eventually(
      async () =>
        kube.core.readNamespace({ name: own }).then(
          () => false,
          (error: { code?: number }) => error.code === 404,
        ),
      { what: `Namespace ${own} to be deleted`, timeoutMs: 60_000 },
    );
    expect(await eventMessages(t, 'web')).toContainEqual(expect.stringContaining(`Namespace/${own} deleted`));
  });
});
