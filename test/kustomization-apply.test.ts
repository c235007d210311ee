import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { appFiles, gitAndKustomization } from './fixtures/kustomization/app-files.ts';
import { appliedCommit, eventMessages, fetchNow, ks, statusOf } from './fixtures/kustomization/helpers.ts';
import { eventually } from './harness/eventually.ts';
import { createRepo, type TestRepo } from './harness/git-repo.ts';
import { kubeTestContext } from './harness/kube.ts';
import { startTestEngine, type TestEngine } from './harness/test-engine.ts';

const kube = kubeTestContext();

describe('Kustomization applying to a cluster', () => {
  let t: TestEngine;
  let repo: TestRepo;
  let ns: string;

  beforeEach(async () => {
    ns = kube.namespace();
    repo = createRepo({ files: appFiles(ns) });
    t = await startTestEngine({ kubeconfig: inject('kubeconfig'), receiverAddress: { host: '127.0.0.1', port: 0 } });
  });
  afterEach(async () => {
    await t.stop();
    rmSync(dirname(repo.dir), { recursive: true, force: true });
    await kube.core.deleteNamespace({ name: `${ns}-extra` }).catch(() => undefined);
  });

  const resourceVersions = async (): Promise<Record<string, string | undefined>> => ({
    config: (await kube.core.readNamespacedConfigMap({ name: 'web-config', namespace: ns })).metadata?.resourceVersion,
    secret: (await kube.core.readNamespacedSecret({ name: 'web-secret', namespace: ns })).metadata?.resourceVersion,
    service: (await kube.core.readNamespacedService({ name: 'web', namespace: ns })).metadata?.resourceVersion,
    deployment: (await kube.objects.read({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: ns } })).metadata?.resourceVersion,
  });

  it('applies a multi-file app, writes only what a commit changed, prunes what it removed', async () => {
    await t.apply(gitAndKustomization('app', repo.url));
    const first = await appliedCommit(t, 'app', repo.revParse());

    // Every object is there, labelled with its owner and managed by kustomize-controller.
    const config = await kube.core.readNamespacedConfigMap({ name: 'web-config', namespace: ns });
    expect(config.data).toEqual({ greeting: 'hello' });
    expect(config.metadata?.labels).toMatchObject({ 'kustomize.toolkit.fluxcd.io/name': 'app', 'kustomize.toolkit.fluxcd.io/namespace': 'default' });
    expect(config.metadata?.managedFields?.some((m) => m.manager === 'kustomize-controller' && m.operation === 'Apply')).toBe(true);
    await kube.core.readNamespace({ name: `${ns}-extra` });
    const widget: unknown = await kube.custom.getNamespacedCustomObject({ group: `${ns}.kedge.dev`, version: 'v1', namespace: ns, plural: 'widgets', name: 'gear' });
    expect((widget as { spec: unknown }).spec).toEqual({ size: 3 });
    const ids = statusOf(first).inventory?.entries.map((e) => e.id);
    expect(ids).toEqual(
      expect.arrayContaining([`${ns}_web_apps_Deployment`, `${ns}_web-config__ConfigMap`, `_${ns}-extra__Namespace`, `_widgets.${ns}.kedge.dev_apiextensions.k8s.io_CustomResourceDefinition`, `${ns}_gear_${ns}.kedge.dev_Widget`]),
    );
    expect(ids).toHaveLength(7);
    expect(statusOf(first).conditions?.find((c) => c.type === 'Ready')).toMatchObject({ reason: 'ReconciliationSucceeded', message: `Applied revision: main@sha1:${repo.revParse()}` });
    expect((await eventMessages(t, 'app')).join('\n')).toContain(`ConfigMap/${ns}/web-config created`);

    // A commit changing one field writes only that object.
    const before = await resourceVersions();
    const second = repo.commit({ 'deploy/config.yaml': appFiles(ns, { greeting: 'bonjour' })['deploy/config.yaml']! });
    await fetchNow(t, 'app', second);
    await appliedCommit(t, 'app', second);
    const after = await resourceVersions();
    expect((await kube.core.readNamespacedConfigMap({ name: 'web-config', namespace: ns })).data).toEqual({ greeting: 'bonjour' });
    expect(after.config).not.toBe(before.config);
    expect({ ...after, config: undefined }).toEqual({ ...before, config: undefined });
    expect(await eventMessages(t, 'app')).toContainEqual(expect.stringContaining(`ConfigMap/${ns}/web-config configured`));

    // A commit removing an object prunes it and drops it from the inventory.
    const third = repo.commit({ ...appFiles(ns, { greeting: 'bonjour', withService: false }), 'deploy/service.yaml': null });
    await fetchNow(t, 'app', third);
    const pruned = await appliedCommit(t, 'app', third);
    await expect(kube.core.readNamespacedService({ name: 'web', namespace: ns })).rejects.toThrow();
    expect(statusOf(pruned).inventory?.entries.map((e) => e.id)).not.toContain(`${ns}_web__Service`);
    expect(await eventMessages(t, 'app')).toContainEqual(expect.stringContaining(`Service/${ns}/web deleted`));
  });

  it('keeps the last good objects and prunes nothing when a commit does not build', async () => {
    await t.apply(gitAndKustomization('app', repo.url));
    await appliedCommit(t, 'app', repo.revParse());
    const bad = repo.commit({ 'deploy/service.yaml': null, 'deploy/config.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [unclosed\n' });
    await fetchNow(t, 'app', bad);
    const failed = await t.waitForReady(ks('app'), (ready) => ready.status === 'False' && ready.reason === 'BuildFailed');
    expect(statusOf(failed).lastAttemptedRevision).toContain(bad);
    expect(statusOf(failed).lastAppliedRevision).not.toContain(bad);
    await kube.core.readNamespacedService({ name: 'web', namespace: ns });
    expect((await kube.core.readNamespacedConfigMap({ name: 'web-config', namespace: ns })).data).toEqual({ greeting: 'hello' });
    expect(statusOf(failed).inventory?.entries).toHaveLength(7);
  });

  it('does not prune an object annotated prune: disabled', async () => {
    repo.commit({ 'deploy/service.yaml': appFiles(ns)['deploy/service.yaml']!.replace('metadata: {name: web,', "metadata: {annotations: {kustomize.toolkit.fluxcd.io/prune: disabled}, name: web,") });
    await t.apply(gitAndKustomization('app', repo.url));
    await appliedCommit(t, 'app', repo.revParse());
    const removed = repo.commit({ ...appFiles(ns, { withService: false }), 'deploy/service.yaml': null });
    await fetchNow(t, 'app', removed);
    const done = await appliedCommit(t, 'app', removed);
    await kube.core.readNamespacedService({ name: 'web', namespace: ns });
    expect(statusOf(done).inventory?.entries.map((e) => e.id)).not.toContain(`${ns}_web__Service`);
  });

  it('undoes a kubectl-style edit and delete of a managed object, keeping fields of other managers', async () => {
    await t.apply(gitAndKustomization('app', repo.url));
    await appliedCommit(t, 'app', repo.revParse());
    // Another manager adds a field Kedge does not manage: it must survive every re-apply.
    await kube.apply({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'web-config', namespace: ns, annotations: { team: 'blue' } } }, 'other-tool');
    // kubectl edit: a managed field changed by hand.
    await kube.apply({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'web-config', namespace: ns }, data: { greeting: 'hacked' } }, 'kubectl-edit');
    await eventually(async () => (await kube.core.readNamespacedConfigMap({ name: 'web-config', namespace: ns })).data?.greeting === 'hello', {
      what: 'the edit to be undone',
    });
    expect((await kube.core.readNamespacedConfigMap({ name: 'web-config', namespace: ns })).metadata?.annotations).toMatchObject({ team: 'blue' });
    expect(await eventMessages(t, 'app')).toContainEqual(expect.stringContaining(`ConfigMap/${ns}/web-config drifted: data.greeting`));

    await kube.core.deleteNamespacedService({ name: 'web', namespace: ns });
    await eventually(() => kube.core.readNamespacedService({ name: 'web', namespace: ns }), { what: 'the deleted Service to come back' });
  });
});
