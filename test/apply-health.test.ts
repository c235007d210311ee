import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { ApplyManager, type ApplyOptions } from '../src/apply/apply-manager.ts';
import { HealthCheckError } from '../src/apply/errors.ts';
import { waitForHealthy } from '../src/apply/health.ts';
import { KubeTarget } from '../src/apply/kube-client.ts';
import type { KubeObject } from '../src/apply/object-id.ts';
import { deployment, gadgetCrd, job } from './fixtures/apply/objects.ts';
import { eventually } from './harness/eventually.ts';
import { kubeTestContext } from './harness/kube.ts';

const kube = kubeTestContext();
const target = new KubeTarget(kube.kubeConfig);
const manager = new ApplyManager(target);
afterAll(() => target.close());
const options: ApplyOptions = { owner: { name: 'apps', namespace: 'flux-system' } };

const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
const cond = (type: string, status: string, reason: string) => ({ type, status, reason, message: `${type} ${reason}`, lastTransitionTime: now, lastUpdateTime: now });

/** Writes status through the status subresource, as the (absent) controller-manager would. */
async function writeStatus(obj: KubeObject, plural: string, status: Record<string, unknown>): Promise<void> {
  const group = obj.apiVersion.includes('/') ? `/apis/${obj.apiVersion}` : `/api/${obj.apiVersion}`;
  await target.rest.request('PATCH', `${group}/namespaces/${obj.metadata.namespace}/${plural}/${obj.metadata.name}/status`, {
    body: { status }, contentType: 'application/merge-patch+json',
  });
}

const ref = (obj: KubeObject) => ({ apiVersion: obj.apiVersion, kind: obj.kind, namespace: obj.metadata.namespace ?? '', name: obj.metadata.name });

function track<T>(promise: Promise<T>) {
  const state = { settled: false };
  promise.then(() => (state.settled = true), () => (state.settled = true));
  return state;
}

describe('waitForHealthy', () => {
  it('waits for a Deployment to go from progressing to available', async () => {
    const web = deployment(kube.namespace(), 'web');
    await manager.applyAllStaged([web], options);
    const wait = waitForHealthy(target, [ref(web)], { timeoutMs: 30_000 });
    const state = track(wait);
    await writeStatus(web, 'deployments', { observedGeneration: 1, replicas: 1, updatedReplicas: 1, unavailableReplicas: 1, conditions: [cond('Progressing', 'True', 'ReplicaSetUpdated')] });
    const progressing = await target.rest.request<{ status?: { observedGeneration?: number } }>('GET', `/apis/apps/v1/namespaces/${kube.namespace()}/deployments/web`);
    expect(progressing.status?.observedGeneration).toBe(1);
    expect(state.settled).toBe(false);
    await writeStatus(web, 'deployments', {
      observedGeneration: 1, replicas: 1, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1, unavailableReplicas: null,
      conditions: [cond('Available', 'True', 'MinimumReplicasAvailable'), cond('Progressing', 'True', 'NewReplicaSetAvailable')],
    });
    const report = await wait;
    expect(report.get(`Deployment/${kube.namespace()}/web`)).toMatchObject({ status: 'Current' });
  });

  it('fails fast on a Deployment whose progress deadline was exceeded, naming it', async () => {
    const web = deployment(kube.namespace(), 'stuck');
    await manager.applyAllStaged([web], options);
    const wait = waitForHealthy(target, [ref(web)], { timeoutMs: 30_000 });
    await writeStatus(web, 'deployments', { observedGeneration: 1, replicas: 1, updatedReplicas: 1, unavailableReplicas: 1, conditions: [cond('Progressing', 'False', 'ProgressDeadlineExceeded')] });
    const error = await wait.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HealthCheckError);
    expect((error as Error).message).toContain(`Deployment/${kube.namespace()}/stuck status: 'Failed'`);
  });

  it.each([
    ['complete', [cond('SuccessCriteriaMet', 'True', 'CompletionsReached'), cond('Complete', 'True', 'CompletionsReached')], { succeeded: 1, completionTime: now }, 'Current'],
    ['failed', [cond('FailureTarget', 'True', 'BackoffLimitExceeded'), cond('Failed', 'True', 'BackoffLimitExceeded')], { failed: 1 }, 'Failed'],
  ])('reports a %s Job', async (name, conditions, counts, expected) => {
    const j = job(kube.namespace(), `job-${name}`, ['true']);
    await manager.applyAllStaged([j], options);
    const wait = waitForHealthy(target, [ref(j)], { timeoutMs: 30_000 }).then(() => 'Current', (e: HealthCheckError) => e.unhealthy[0]?.status);
    await writeStatus(j, 'jobs', { startTime: now, conditions: conditions.map(({ lastUpdateTime: _u, ...c }) => ({ ...c, lastProbeTime: now })), ...counts });
    expect(await wait).toBe(expected);
  });

  it('reports a CRD Current once Established, and a missing object as NotFound on timeout', async () => {
    const crd = gadgetCrd(`h${randomBytes(3).toString('hex')}.test.kedge.dev`);
    await target.rest.request('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', { body: crd });
    const report = await waitForHealthy(target, [{ apiVersion: crd.apiVersion, kind: crd.kind, namespace: '', name: crd.metadata.name }], { timeoutMs: 30_000 });
    expect([...report.values()].map((r) => r.status)).toEqual(['Current']);
    await target.rest.request('DELETE', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata.name}`);

    const error = await waitForHealthy(target, [{ apiVersion: 'v1', kind: 'ConfigMap', namespace: kube.namespace(), name: 'absent' }], { timeoutMs: 300 }).catch((e: unknown) => e);
    expect((error as HealthCheckError).unhealthy).toEqual([{ ref: `ConfigMap/${kube.namespace()}/absent`, status: 'NotFound', message: 'object not found' }]);
  });

  it('stops waiting when aborted, with the abort reason', async () => {
    const web = deployment(kube.namespace(), 'old-revision');
    await manager.applyAllStaged([web], options);
    const controller = new AbortController();
    const wait = waitForHealthy(target, [ref(web)], { timeoutMs: 60_000, signal: controller.signal });
    await eventually(() => true);
    controller.abort(new Error('superseded by a new revision'));
    await expect(wait).rejects.toThrow('superseded by a new revision');
  });
});
