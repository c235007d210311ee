import { afterAll, describe, expect, it } from 'vitest';
import { ApplyManager, type ApplyOptions } from '../src/apply/apply-manager.ts';
import { DriftWatch, type DriftEvent } from '../src/apply/drift-watch.ts';
import { KubeTarget } from '../src/apply/kube-client.ts';
import { configMap, deployment } from './fixtures/apply/objects.ts';
import { eventually } from './harness/eventually.ts';
import { kubeTestContext } from './harness/kube.ts';

const kube = kubeTestContext();
const target = new KubeTarget(kube.kubeConfig);
const manager = new ApplyManager(target);
afterAll(() => target.close());
const owner = { name: 'apps', namespace: 'flux-system' };
const options: ApplyOptions = { owner };

/** A merge patch made by `manager` with an Update operation, like `kubectl edit` or a controller. */
async function edit(path: string, patch: unknown, manager: string): Promise<void> {
  await target.rest.request('PATCH', path, { body: patch, contentType: 'application/merge-patch+json', query: { fieldManager: manager } });
}

describe('DriftWatch', () => {
  it('reports edits of managed fields and deletions, not edits of fields we do not own nor our own applies', async () => {
    const ns = kube.namespace();
    const objects = [configMap(ns, 'settings', { mode: 'fast' }), deployment(ns, 'web')];
    const applied = await manager.applyAllStaged(objects, options);
    const events: DriftEvent[] = [];
    const watch = new DriftWatch(target, { owner, objects: applied.map((e) => e.ref), onDrift: (e) => events.push(e) });
    await watch.start();
    try {
      const cmPath = `/api/v1/namespaces/${ns}/configmaps/settings`;
      const deployPath = `/apis/apps/v1/namespaces/${ns}/deployments/web`;
      // Fields we do not own: an HPA scaling, a controller annotating.
      await edit(`${deployPath}`, { spec: { replicas: 5 } }, 'hpa-controller');
      await edit(cmPath, { metadata: { annotations: { 'example.com/seen': 'yes' } } }, 'some-controller');
      // Then managed fields, kubectl-edit style. Events of one collection arrive in order, so if the edits
      // above had been reported they would show up before these.
      await edit(cmPath, { data: { mode: 'slow' } }, 'kubectl-edit');
      await edit(deployPath, { spec: { template: { spec: { containers: [{ name: 'app', image: 'nginx:9' }] } } } }, 'kubectl-edit');
      await eventually(() => events.length >= 2, { what: 'two drift events' });
      expect(events.map((e) => [e.subject, e.deleted, e.fields]).sort()).toEqual([
        [`ConfigMap/${ns}/settings`, false, ['data.mode']],
        [`Deployment/${ns}/web`, false, ['spec.template.spec.containers[name=app].image']],
      ]);
      expect(events.find((e) => e.ref.kind === 'ConfigMap')?.id).toBe(`${ns}_settings__ConfigMap`);

      // The caller re-applies: our own write is not drift; the next edit is the only event after it.
      events.length = 0;
      const reapplied = await manager.applyAllStaged(objects, options);
      expect(reapplied.map((e) => e.action)).toEqual(['configured', 'configured']);
      await edit(cmPath, { metadata: { labels: { 'kustomize.toolkit.fluxcd.io/name': 'someone' } } }, 'kubectl-edit');
      await eventually(() => events.length >= 1, { what: 'label drift' });
      expect(events.map((e) => [e.subject, e.deleted, e.fields])).toEqual([[`ConfigMap/${ns}/settings`, false, ['metadata.labels.kustomize.toolkit.fluxcd.io/name']]]);

      events.length = 0;
      await manager.applyAllStaged(objects, options);
      await target.rest.request('DELETE', deployPath);
      await eventually(() => events.length >= 1, { what: 'deletion drift' });
      expect(events.map((e) => [e.subject, e.deleted, e.fields])).toEqual([[`Deployment/${ns}/web`, true, []]]);
    } finally {
      watch.stop();
    }
  });

  it.each([
    { judged: 'by managedFields', withManifests: false },
    { judged: 'against the applied manifests', withManifests: true },
  ])('judged $judged, reports a forced server-side apply by another manager that takes our fields', async ({ withManifests }) => {
    const ns = kube.namespace();
    const objects = [configMap(ns, 'settings', { mode: 'fast', size: 'small' }), deployment(ns, 'web')];
    const applied = await manager.applyAllStaged(objects, options);
    const events: DriftEvent[] = [];
    const refs = applied.map((e) => e.ref);
    const watch = new DriftWatch(target, { owner, objects: refs, applied: withManifests ? objects : undefined, onDrift: (e) => events.push(e) });
    await watch.start();
    try {
      // Another manager adds a field we do not set: not drift.
      await kube.apply({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings', namespace: ns, annotations: { team: 'blue' } } }, 'other-tool');
      // kubectl apply --server-side --force-conflicts: ownership of data.mode moves away from us.
      await kube.apply({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings', namespace: ns }, data: { mode: 'slow' } }, 'kubectl');
      await eventually(() => events.length >= 1, { what: 'drift from a forced takeover' });
      expect(events.map((e) => [e.subject, e.deleted, e.fields])).toEqual([[`ConfigMap/${ns}/settings`, false, ['data.mode']]]);

      events.length = 0;
      await manager.applyAllStaged(objects, options);
      await target.rest.request('DELETE', `/apis/apps/v1/namespaces/${ns}/deployments/web`);
      await eventually(() => events.some((e) => e.deleted), { what: 'deletion drift' });
      expect(events.filter((e) => e.deleted).map((e) => e.subject)).toEqual([`Deployment/${ns}/web`]);
    } finally {
      watch.stop();
    }
  });

  it('with the applied manifests, reports drift made before the watch started as soon as it lists', async () => {
    const ns = kube.namespace();
    const objects = [configMap(ns, 'settings', { mode: 'fast' })];
    const applied = await manager.applyAllStaged(objects, options);
    await kube.apply({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings', namespace: ns }, data: { mode: 'slow' } }, 'kubectl');
    const events: DriftEvent[] = [];
    const watch = new DriftWatch(target, { owner, objects: applied.map((e) => e.ref), applied: objects, onDrift: (e) => events.push(e) });
    await watch.start();
    try {
      await eventually(() => events.length >= 1, { what: 'drift found at list' });
      expect(events.map((e) => [e.subject, e.deleted, e.fields])).toEqual([[`ConfigMap/${ns}/settings`, false, ['data.mode']]]);
    } finally {
      watch.stop();
    }
  });
});
