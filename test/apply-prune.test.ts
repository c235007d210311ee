import { afterAll, describe, expect, it } from 'vitest';
import { ApplyManager, type ApplyOptions } from '../src/apply/apply-manager.ts';
import { inventoryFromChangeSet, staleEntries } from '../src/apply/inventory.ts';
import { KubeTarget } from '../src/apply/kube-client.ts';
import { deletesInventory, pruneEntries } from '../src/apply/prune.ts';
import { configMap } from './fixtures/apply/objects.ts';
import { kubeTestContext } from './harness/kube.ts';

const kube = kubeTestContext();
const target = new KubeTarget(kube.kubeConfig);
const manager = new ApplyManager(target);
afterAll(() => target.close());

const owner = { name: 'apps', namespace: 'flux-system' };
const options: ApplyOptions = { owner };

const exists = (ns: string, name: string): Promise<boolean> =>
  target.rest.request('GET', `/api/v1/namespaces/${ns}/configmaps/${name}`).then(() => true, () => false);

describe('inventory and prune', () => {
  it('records Flux inventory ids and prunes what left the set, keeping prune-disabled and disowned objects', async () => {
    const ns = kube.namespace();
    const first = await manager.applyAllStaged([
      configMap(ns, 'stays', { a: '1' }),
      configMap(ns, 'removed', { a: '1' }),
      configMap(ns, 'protected', { a: '1' }, { 'kustomize.toolkit.fluxcd.io/prune': 'disabled' }),
      configMap(ns, 'disowned', { a: '1' }),
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: `${ns}-gone` } },
    ], options);
    const oldInventory = inventoryFromChangeSet(first);
    expect(oldInventory.entries).toContainEqual({ id: `_${ns}-gone__Namespace`, v: 'v1' });
    expect(oldInventory.entries).toContainEqual({ id: `${ns}_stays__ConfigMap`, v: 'v1' });

    // Someone takes "disowned" over by removing the owner labels.
    await target.rest.request('PATCH', `/api/v1/namespaces/${ns}/configmaps/disowned`, {
      body: [{ op: 'remove', path: '/metadata/labels/kustomize.toolkit.fluxcd.io~1name' }],
      contentType: 'application/json-patch+json',
    });

    const next = inventoryFromChangeSet(await manager.applyAllStaged([configMap(ns, 'stays', { a: '1' })], options));
    const stale = staleEntries(oldInventory, next);
    expect(stale.map((e) => e.id).sort()).toEqual([`${ns}_disowned__ConfigMap`, `${ns}_protected__ConfigMap`, `${ns}_removed__ConfigMap`, `_${ns}-gone__Namespace`].sort());

    const result = await pruneEntries(target, stale, { owner });
    expect(result.deleted.map((e) => e.id)).toEqual([`${ns}_removed__ConfigMap`, `_${ns}-gone__Namespace`]);
    expect(result.skipped.map((s) => [s.entry.id, s.reason])).toEqual([
      [`${ns}_protected__ConfigMap`, 'prune disabled'],
      [`${ns}_disowned__ConfigMap`, 'owner labels removed'],
    ]);
    expect(result.failed).toEqual([]);
    expect(await Promise.all(['stays', 'removed', 'protected', 'disowned'].map((n) => exists(ns, n)))).toEqual([true, false, true, true]);
  });

  it('treats objects already gone, or whose kind is no longer served, as pruned', async () => {
    const ns = kube.namespace();
    const result = await pruneEntries(target, [
      { id: `${ns}_never-existed__ConfigMap`, v: 'v1' },
      { id: `${ns}_x_nonexistent.kedge.dev_Thing`, v: 'v1' },
    ], { owner });
    expect(result.deleted.map((e) => e.id).sort()).toEqual([`${ns}_never-existed__ConfigMap`, `${ns}_x_nonexistent.kedge.dev_Thing`]);
    expect(result.failed).toEqual([]);
  });

  it.each([
    ['MirrorPrune', true, true],
    ['MirrorPrune', false, false],
    ['Delete', false, true],
    ['WaitForTermination', false, true],
    ['Orphan', true, false],
    [undefined, true, true],
  ] as const)('deletionPolicy %s with prune=%s deletes the inventory: %s', (policy, prune, expected) => {
    expect(deletesInventory(policy, prune)).toBe(expected);
  });
});
