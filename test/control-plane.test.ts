import type { KubernetesObject, V1ConfigMap } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { eventually } from './harness/eventually.ts';
import { kubeTestContext } from './harness/kube.ts';

const kube = kubeTestContext();

const widgetCrd = {
  metadata: { name: 'widgets.test.kedge.dev' },
  spec: {
    group: 'test.kedge.dev',
    scope: 'Namespaced',
    names: { plural: 'widgets', singular: 'widget', kind: 'Widget', listKind: 'WidgetList' },
    versions: [{
      name: 'v1', served: true, storage: true, subresources: { status: {} },
      schema: { openAPIV3Schema: { type: 'object', properties: {
        spec: { type: 'object', properties: { size: { type: 'integer' } } },
        status: { type: 'object', "x-kubernetes-preserve-unknown-fields": true },
      } } },
    }],
  },
};

describe('test control plane', () => {
  it('reports the kube-apiserver version it was built from', async () => {
    const info = await kube.version.getCode();
    expect(info.gitVersion).toBe('v1.36.3');
  });

  it('gives each test its own existing namespace', async () => {
    const ns = await kube.core.readNamespace({ name: kube.namespace() });
    expect(ns.status?.phase).toBe('Active');
    expect(ns.metadata?.labels?.['kedge.dev/test']).toBe('true');
  });

  it('server-side applies a ConfigMap and records the field manager', async () => {
    const namespace = kube.namespace();
    const configMap: V1ConfigMap = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'app', namespace }, data: { a: '1' } };
    await kube.apply(configMap, 'kedge');
    await kube.apply({ ...configMap, data: { a: '2', b: '3' } }, 'kedge');
    const read = await kube.core.readNamespacedConfigMap({ name: 'app', namespace });
    expect(read.data).toEqual({ a: '2', b: '3' });
    expect(read.metadata?.managedFields?.map((f) => [f.manager, f.operation])).toEqual([['kedge', 'Apply']]);
  });

  it('serves a CRD once Established and stores an instance of it', async () => {
    await kube.applyCrd(widgetCrd);
    const namespace = kube.namespace();
    await kube.apply({ apiVersion: 'test.kedge.dev/v1', kind: 'Widget', metadata: { name: 'w1', namespace }, spec: { size: 3 } } as KubernetesObject);
    const widget = (await kube.custom.getNamespacedCustomObject({
      group: 'test.kedge.dev', version: 'v1', namespace, plural: 'widgets', name: 'w1',
    })) as { spec?: { size?: number } };
    expect(widget.spec?.size).toBe(3);
  });

  it('delivers watch events for a change to an object', async () => {
    const namespace = kube.namespace();
    const recorder = await kube.watch(`/api/v1/namespaces/${namespace}/configmaps`);
    const configMap: V1ConfigMap = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'watched', namespace }, data: { v: '1' } };
    await kube.apply(configMap);
    await kube.apply({ ...configMap, data: { v: '2' } });
    const modified = await eventually(() => {
      const event = recorder.events.find((e) => e.type === 'MODIFIED');
      if (event === undefined) throw new Error(`events so far: ${recorder.events.map((e) => e.type).join(', ')}`);
      return event;
    }, { what: 'a MODIFIED event for ConfigMap watched' });
    expect(recorder.events.map((e) => e.type).slice(0, 2)).toEqual(['ADDED', 'MODIFIED']);
    expect((modified.object as V1ConfigMap).data).toEqual({ v: '2' });
  });
});
