import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { KObject } from '../src/api/meta.ts';
import { KubeTarget } from '../src/apply/kube-client.ts';
import { uninstall, type InstallAction } from '../src/install/install-apply.ts';
import { eventually } from './harness/eventually.ts';
import { kubeTestContext } from './harness/kube.ts';

/*
 * `uninstall --delete-crds` on CRDs of a test group of their own: deleting Kedge's real CRDs would pull them from
 * under every other test file sharing the control plane. The mechanism is the same: finalizers removed, CRD
 * deleted, custom resources gone with it; a CRD not labelled as Kedge's stays.
 */
const kube = kubeTestContext();

const targets: KubeTarget[] = [];
afterEach(() => {
  for (const target of targets.splice(0)) target.close();
});

function widgetCrd(group: string, plural: string, labelled: boolean): KObject {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${plural}.${group}`,
      ...(labelled ? { labels: { 'app.kubernetes.io/part-of': 'kedge' } } : {}),
    },
    spec: {
      group,
      names: { kind: plural === 'widgets' ? 'Widget' : 'Gadget', plural, singular: plural.slice(0, -1) },
      scope: 'Namespaced',
      versions: [
        {
          name: 'v1',
          served: true,
          storage: true,
          schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
        },
      ],
    },
  };
}

describe('kedge uninstall --delete-crds', () => {
  it("removes the finalizers of every custom resource, deletes Kedge's CRDs and keeps others", async () => {
    const group = `t${randomBytes(4).toString('hex')}.kedge-test.dev`;
    const ours = widgetCrd(group, 'widgets', true);
    const foreign = widgetCrd(group, 'gadgets', false);
    for (const crd of [ours, foreign]) await kube.applyCrd(crd as never);
    const ns = kube.namespace();
    await eventually(
      () =>
        kube.apply({
          apiVersion: `${group}/v1`,
          kind: 'Widget',
          metadata: { name: 'w', namespace: ns, finalizers: ['finalizers.fluxcd.io'] },
        }),
      { what: 'the Widget to be stored (CRD storage ready)' },
    );
    const target = new KubeTarget(kube.kubeConfig);
    targets.push(target);
    const lines: string[] = [];
    const report = {
      object: (subject: string, action: InstallAction) => void lines.push(`${subject} ${action}`),
      progress: (line: string) => void lines.push(line),
    };
    await uninstall(target, [ours, foreign], { namespace: ns, deleteCrds: true }, report);
    expect(lines).toContain(`CustomResourceDefinition/widgets.${group} deleted`);
    expect(lines).toContain(`CustomResourceDefinition/gadgets.${group} kept`);
    expect(lines).toContain('deleted 1 widgets with their CRD');
    await eventually(
      async () => {
        const left = await kube.apiextensions.readCustomResourceDefinition({ name: `widgets.${group}` }).then(
          () => true,
          () => false,
        );
        return !left;
      },
      {
        what: 'the Widget CRD to be gone (the API server deletes its custom resources first)',
        timeoutMs: 60_000,
      },
    );
    expect(
      (await kube.apiextensions.readCustomResourceDefinition({ name: `gadgets.${group}` })).metadata?.name,
    ).toBe(`gadgets.${group}`);
    await kube.apiextensions.deleteCustomResourceDefinition({ name: `gadgets.${group}` });
  }, 120_000);
});
