import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { ApplyManager, type ApplyOptions } from '../src/apply/apply-manager.ts';
import { ApplyError } from '../src/apply/errors.ts';
import { KubeTarget } from '../src/apply/kube-client.ts';
import type { KubeObject } from '../src/apply/object-id.ts';
import { configMap, deployment, gadgetCrd, service } from './fixtures/apply/objects.ts';
import { kubeTestContext } from './harness/kube.ts';

const kube = kubeTestContext();
const target = new KubeTarget(kube.kubeConfig);
const manager = new ApplyManager(target);
afterAll(() => target.close());

const owner = { name: 'apps', namespace: 'flux-system' };
const options: ApplyOptions = { owner, fieldManager: 'kustomize-controller' };

interface Meta { metadata: { resourceVersion: string; labels?: Record<string, string>; managedFields?: { manager: string; operation: string }[] } }
const read = (path: string): Promise<Meta & Record<string, unknown>> => target.rest.request('GET', path);

function fullSet(ns: string, extraNs: string, group: string): KubeObject[] {
  // Deliberately in the wrong order: the instance before its CRD, the Namespace after its ConfigMap.
  return [
    { apiVersion: `${group}/v1`, kind: 'Gadget', metadata: { name: 'g1', namespace: ns }, spec: { size: 3 } },
    configMap(extraNs, 'in-new-ns', { a: '1' }),
    configMap(ns, 'settings', { mode: 'fast' }),
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'creds', namespace: ns }, stringData: { token: 'abc' } },
    deployment(ns, 'web'),
    service(ns, 'web'),
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: extraNs } },
    gadgetCrd(group),
  ];
}

describe('ApplyManager.applyAllStaged', () => {
  it('creates a mixed set with owner labels, then writes nothing when re-applied, then configures only what changed', async () => {
    const ns = kube.namespace();
    const extraNs = `${ns}-extra`;
    const group = `g${randomBytes(3).toString('hex')}.test.kedge.dev`;
    const objects = fullSet(ns, extraNs, group);

    const first = await manager.applyAllStaged(objects, options);
    expect(first.map((e) => [e.id, e.action])).toEqual([
      [`_gadgets.${group}_apiextensions.k8s.io_CustomResourceDefinition`, 'created'],
      [`_${extraNs}__Namespace`, 'created'],
      [`${ns}_settings__ConfigMap`, 'created'],
      [`${extraNs}_in-new-ns__ConfigMap`, 'created'],
      [`${ns}_creds__Secret`, 'created'],
      [`${ns}_web__Service`, 'created'],
      [`${ns}_web_apps_Deployment`, 'created'],
      [`${ns}_g1_${group}_Gadget`, 'created'],
    ]);
    const paths = [
      `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gadgets.${group}`,
      `/api/v1/namespaces/${extraNs}`,
      `/api/v1/namespaces/${ns}/configmaps/settings`,
      `/api/v1/namespaces/${extraNs}/configmaps/in-new-ns`,
      `/api/v1/namespaces/${ns}/secrets/creds`,
      `/api/v1/namespaces/${ns}/services/web`,
      `/apis/apps/v1/namespaces/${ns}/deployments/web`,
      `/apis/${group}/v1/namespaces/${ns}/gadgets/g1`,
    ];
    const before = await Promise.all(paths.map(read));
    for (const live of before) {
      expect(live.metadata.labels).toMatchObject({ 'kustomize.toolkit.fluxcd.io/name': 'apps', 'kustomize.toolkit.fluxcd.io/namespace': 'flux-system' });
      expect(live.metadata.managedFields?.filter((f) => f.operation === 'Apply').map((f) => f.manager)).toEqual(['kustomize-controller']);
    }

    const second = await manager.applyAllStaged(objects, options);
    expect(second.map((e) => e.action)).toEqual(Array(8).fill('unchanged'));
    const after = await Promise.all(paths.map(read));
    expect(after.map((o) => o.metadata.resourceVersion)).toEqual(before.map((o) => o.metadata.resourceVersion));

    const changed = objects.map((o) => (o.kind === 'ConfigMap' && o.metadata.name === 'settings' ? configMap(ns, 'settings', { mode: 'slow' }) : o));
    const third = await manager.applyAllStaged(changed, options);
    expect(third.filter((e) => e.action !== 'unchanged').map((e) => [e.subject, e.action])).toEqual([[`ConfigMap/${ns}/settings`, 'configured']]);
    expect((await read(paths[2]!)).data).toEqual({ mode: 'slow' });
    await target.rest.request('DELETE', paths[1]!);
    await target.rest.request('DELETE', paths[0]!);
  });

  it('takes over fields set with kubectl so that removing them from the manifest removes them', async () => {
    const ns = kube.namespace();
    await kube.apply(configMap(ns, 'legacy', { keep: '1', drop: '2' }) as never, 'kubectl');
    await manager.applyAllStaged([configMap(ns, 'legacy', { keep: '1' })], options);
    expect((await read(`/api/v1/namespaces/${ns}/configmaps/legacy`)).data).toEqual({ keep: '1' });
  });

  it.each([
    ['Ignore', { ssa: 'Ignore' }, 'skipped', { v: 'live' }],
    ['IfNotPresent', { ssa: 'IfNotPresent' }, 'skipped', { v: 'live' }],
    ['reconcile: disabled', { reconcile: 'disabled' }, 'skipped', { v: 'live' }],
    ['Override', { ssa: 'Override' }, 'configured', { v: 'git' }],
  ])('honours %s on an existing object', async (_name, annotation, action, data) => {
    const ns = kube.namespace();
    const annotations = Object.fromEntries(Object.entries(annotation).map(([k, v]) => [`kustomize.toolkit.fluxcd.io/${k}`, v]));
    await kube.apply(configMap(ns, 'cm', { v: 'live' }) as never, 'someone-else');
    const [entry] = await manager.applyAllStaged([configMap(ns, 'cm', { v: 'git' }, annotations)], options);
    expect(entry?.action).toBe(action);
    expect((await read(`/api/v1/namespaces/${ns}/configmaps/cm`)).data).toEqual(data);
  });

  it('creates an IfNotPresent object that does not exist yet', async () => {
    const ns = kube.namespace();
    const [entry] = await manager.applyAllStaged([configMap(ns, 'fresh', { v: '1' }, { 'kustomize.toolkit.fluxcd.io/ssa': 'IfNotPresent' })], options);
    expect(entry?.action).toBe('created');
  });

  it('keeps fields another manager owns under Merge, and drops kubectl fields under Override', async () => {
    const ns = kube.namespace();
    for (const [name, policy, expected] of [['merged', 'Merge', { a: '1', extra: 'x' }], ['overridden', 'Override', { a: '1' }]] as const) {
      await kube.apply(configMap(ns, name, { a: '0', extra: 'x' }) as never, 'kubectl');
      await manager.applyAllStaged([configMap(ns, name, { a: '1' }, { 'kustomize.toolkit.fluxcd.io/ssa': policy })], options);
      expect((await read(`/api/v1/namespaces/${ns}/configmaps/${name}`)).data).toEqual(expected);
    }
  });

  it('fails on an immutable field change naming the object, and recreates it with force', async () => {
    const ns = kube.namespace();
    await manager.applyAllStaged([service(ns, 'db', '10.0.0.50')], options);
    const error = await manager.applyAllStaged([service(ns, 'db', '10.0.0.51')], options).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApplyError);
    expect((error as ApplyError).immutable).toBe(true);
    expect((error as Error).message).toMatch(new RegExp(`^Service/${ns}/db .*may not change once set`));
    expect((await read(`/api/v1/namespaces/${ns}/services/db`)).spec).toMatchObject({ clusterIP: '10.0.0.50' });

    const [entry] = await manager.applyAllStaged([service(ns, 'db', '10.0.0.51')], { ...options, force: true });
    expect(entry?.action).toBe('created');
    expect((await read(`/api/v1/namespaces/${ns}/services/db`)).spec).toMatchObject({ clusterIP: '10.0.0.51' });

    const annotated = service(ns, 'db', '10.0.0.52');
    annotated.metadata.annotations = { 'kustomize.toolkit.fluxcd.io/force': 'Enabled' };
    const [again] = await manager.applyAllStaged([annotated], options);
    expect(again?.action).toBe('created');
  });

  it('reports the API server rejection of an invalid object with its id', async () => {
    const ns = kube.namespace();
    const bad = configMap(ns, 'Bad_Name', { a: '1' });
    const error = await manager.applyAllStaged([bad], options).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApplyError);
    expect((error as Error).message).toContain(`ConfigMap/${ns}/Bad_Name dry-run failed:`);
    expect((error as Error).message).toContain('a lowercase RFC 1123 subdomain');
  });
});
