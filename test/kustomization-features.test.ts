import { readFileSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { appliedCommit, eventMessages, fetchNow, ks, statusOf } from './fixtures/kustomization/helpers.ts';
import { eventually } from './harness/eventually.ts';
import { createRepo, type TestRepo } from './harness/git-repo.ts';
import { kubeTestContext } from './harness/kube.ts';
import { startTestEngine, type TestEngine } from './harness/test-engine.ts';

const kube = kubeTestContext();

const configMap = (ns: string, name: string, data: string) => `apiVersion: v1
kind: ConfigMap
metadata: {name: ${name}, namespace: ${ns}}
data: ${data}
`;

const deployment = (ns: string) => `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: ${ns}}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx:1.27}]}
`;

function kustomization(name: string, spec: string): string {
  return `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: ${name}, namespace: default}
spec:
  interval: 10m
  prune: true
  sourceRef: {kind: GitRepository, name: repo}
${spec}`;
}

describe('Kustomization features', () => {
  let t: TestEngine | undefined;
  let repo: TestRepo;
  let ns: string;

  beforeEach(() => {
    ns = kube.namespace();
  });
  afterEach(async () => {
    await t?.stop();
    t = undefined;
    rmSync(dirname(repo.dir), { recursive: true, force: true });
  });

  const start = async (files: Record<string, string>, cluster: 'engine-kubeconfig' | 'no-cluster' = 'engine-kubeconfig'): Promise<TestEngine> => {
    repo = createRepo({ files });
    const kubeconfig = cluster === 'engine-kubeconfig' ? inject('kubeconfig') : undefined;
    t = await startTestEngine({ kubeconfig, receiverAddress: { host: '127.0.0.1', port: 0 } });
    await t.apply(`apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: repo, namespace: default}
spec: {interval: 10m, url: "${repo.url}", ref: {branch: main}}
`);
    return t;
  };

  it('substitutes variables from a ConfigMap, a Secret and inline values; a missing optional source is skipped', async () => {
    const e = await start({ 'app/cm.yaml': configMap(ns, 'settings', '{color: "${color}", size: "${size}", token: "${token}", region: "${region:=eu}"}') });
    await e.apply(`apiVersion: v1
kind: ConfigMap
metadata: {name: vars, namespace: default}
data: {color: blue, size: small}
---
apiVersion: v1
kind: Secret
metadata: {name: secret-vars, namespace: default}
stringData: {token: t0k3n}
---
${kustomization('subst', `  path: ./app
  postBuild:
    substitute: {size: large}
    substituteFrom:
      - {kind: ConfigMap, name: vars}
      - {kind: Secret, name: secret-vars}
      - {kind: ConfigMap, name: not-there, optional: true}`)}`);
    await appliedCommit(e, 'subst', repo.revParse());
    const cm = await kube.core.readNamespacedConfigMap({ name: 'settings', namespace: ns });
    expect(cm.data).toEqual({ color: 'blue', size: 'large', token: 't0k3n', region: 'eu' });
  });

  it('starts a dependent only once its dependency is ready, and reports a cycle', async () => {
    const e = await start({ 'a/cm.yaml': configMap(ns, 'a', '{k: v}'), 'b/cm.yaml': configMap(ns, 'b', '{k: v}') });
    await e.apply(`${kustomization('b', `  path: ./b\n  dependsOn: [{name: a}]`)}`);
    const waiting = await e.waitForReady(ks('b'), (ready) => ready.reason === 'DependencyNotReady');
    expect(statusOf(waiting).conditions?.find((c) => c.type === 'Ready')?.message).toContain("'default/a'");
    await expect(kube.core.readNamespacedConfigMap({ name: 'b', namespace: ns })).rejects.toThrow();

    await e.apply(kustomization('a', '  path: ./a'));
    // B reacts to A's status change at once, not at its 30 s retry.
    await eventually(() => kube.core.readNamespacedConfigMap({ name: 'b', namespace: ns }), { timeoutMs: 15_000, what: 'B to apply after A' });
    await appliedCommit(e, 'b', repo.revParse());

    await e.apply(kustomization('a', `  path: ./a\n  dependsOn: [{name: b}]`));
    const stalled = await e.waitForReady(ks('a'), (ready) => ready.status === 'False' && ready.message.includes('circular dependency'));
    expect(statusOf(stalled).conditions?.find((c) => c.type === 'Stalled')?.message).toContain('default/a -> default/b -> default/a');
  });

  it.each([
    { name: 'becomes ready', status: { observedGeneration: 1, replicas: 1, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1, conditions: [{ type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable' }, { type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable' }] }, healthy: 'True', reason: 'ReconciliationSucceeded' },
    { name: 'fails its progress deadline', status: { observedGeneration: 1, replicas: 1, conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: 'ReplicaSet "web" has timed out progressing.' }] }, healthy: 'False', reason: 'HealthCheckFailed' },
  ])('waits for health: a Deployment that $name', async ({ status, healthy, reason }) => {
    const e = await start({ 'app/deploy.yaml': deployment(ns) });
    await e.apply(kustomization('health', '  path: ./app\n  wait: true\n  timeout: 1m'));
    const healthyCondition = (o: unknown) => statusOf(o as never).conditions?.find((c) => c.type === 'Healthy');
    // While the Deployment has no status, the health check runs: Healthy Unknown, not yet Ready.
    await eventually(async () => healthyCondition(await e.get(ks('health')))?.status === 'Unknown', { what: 'health checks to run' });
    await eventually(() => kube.objects.read({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: ns } }));
    await kube.objects.replace(
      { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: ns }, status } as never,
      undefined, undefined, undefined, undefined,
    ).catch(async () => {
      // The status subresource: PUT .../status with the live object.
      const live = await kube.objects.read({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: ns } });
      await kube.kubeConfig.makeApiClient((await import('@kubernetes/client-node')).AppsV1Api).replaceNamespacedDeploymentStatus({ name: 'web', namespace: ns, body: { ...live, status } });
    });
    const done = await e.waitForReady(ks('health'), (ready) => ready.reason === reason, 30_000);
    expect(healthyCondition(done)?.status).toBe(healthy);
  });

  it('abandons a health check still waiting on an old revision when a new one arrives', async () => {
    const e = await start({ 'app/deploy.yaml': deployment(ns) });
    await e.apply(kustomization('stuck', '  path: ./app\n  wait: true\n  timeout: 10m'));
    await eventually(async () => statusOf(await e.get(ks('stuck'))).conditions?.some((c) => c.type === 'Healthy' && c.status === 'Unknown'), {
      what: 'the health check on the first revision to run',
    });
    const fixed = repo.commit({ 'app/deploy.yaml': null, 'app/cm.yaml': configMap(ns, 'fixed', '{k: v}') });
    await fetchNow(e, 'repo', fixed);
    // Well before the 10m timeout of the first wait.
    const done = await appliedCommit(e, 'stuck', fixed);
    expect(statusOf(done).conditions?.find((c) => c.type === 'Healthy')?.status).toBe('True');
  });

  it.each([
    { policy: 'MirrorPrune', kept: false },
    { policy: 'Orphan', kept: true },
    { policy: 'Delete', kept: false },
  ])('deleting the Kustomization with deletionPolicy $policy (prune: true) keeps its objects: $kept', async ({ policy, kept }) => {
    const e = await start({ 'app/cm.yaml': configMap(ns, 'owned', '{k: v}') });
    await e.apply(kustomization('gone', `  path: ./app\n  deletionPolicy: ${policy}`));
    const applied = await appliedCommit(e, 'gone', repo.revParse());
    expect(applied.metadata.finalizers).toContain('finalizers.fluxcd.io');
    await e.engine.store.delete(ks('gone'));
    await eventually(async () => (await e.get(ks('gone'))) === undefined, { what: 'the Kustomization to be deleted' });
    const exists = await kube.core.readNamespacedConfigMap({ name: 'owned', namespace: ns }).then(() => true, () => false);
    expect(exists).toBe(kept);
  });

  it('applies to a remote cluster through spec.kubeConfig.secretRef, with no engine kubeconfig', async () => {
    const e = await start({ 'app/cm.yaml': configMap(ns, 'remote', '{k: v}') }, 'no-cluster');
    const kubeconfig = readFileSync(inject('kubeconfig'), 'utf8');
    await e.apply(`apiVersion: v1
kind: Secret
metadata: {name: remote-kubeconfig, namespace: default}
data: {value: ${Buffer.from(kubeconfig).toString('base64')}}
---
${kustomization('remote', '  path: ./app\n  kubeConfig: {secretRef: {name: remote-kubeconfig}}')}`);
    await appliedCommit(e, 'remote', repo.revParse());
    expect((await kube.core.readNamespacedConfigMap({ name: 'remote', namespace: ns })).data).toEqual({ k: 'v' });
  });

  it('fails naming the kind and file of an object no target accepts when no cluster is configured', async () => {
    const e = await start({ 'app/deploy.yaml': deployment(ns) }, 'no-cluster');
    await e.apply(kustomization('orphan', '  path: ./app'));
    const failed = await e.waitForReady(ks('orphan'), (ready) => ready.reason === 'ReconciliationFailed');
    expect(statusOf(failed).conditions?.find((c) => c.type === 'Ready')?.message).toMatch(/Deployment 'web' \(app\/deploy\.yaml\)/);
  });

  it('keeps applying after a restart mid-way and loses nothing', async () => {
    const e = await start({ 'app/cm.yaml': configMap(ns, 'one', '{k: v}') });
    await e.apply(kustomization('restart', '  path: ./app'));
    await appliedCommit(e, 'restart', repo.revParse());
    await e.engine.stop();
    const next = repo.commit({ 'app/cm.yaml': null, 'app/two.yaml': configMap(ns, 'two', '{k: v}') });
    await e.restart();
    await fetchNow(e, 'repo', next);
    const done = await appliedCommit(e, 'restart', next);
    await kube.core.readNamespacedConfigMap({ name: 'two', namespace: ns });
    await expect(kube.core.readNamespacedConfigMap({ name: 'one', namespace: ns })).rejects.toThrow();
    expect(statusOf(done).inventory?.entries.map((x) => x.id)).toEqual([`${ns}_two__ConfigMap`]);
  });

  it('applies Kedge kinds to the store: a repo declaring its own GitRepository and Kustomization (flux-system pattern)', async () => {
    const e = await start({ 'clusters/main/sync.yaml': '' }, 'no-cluster');
    const nested = repo.commit({
      'clusters/main/sync.yaml': `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: apps, namespace: default}
spec: {interval: 10m, url: "${repo.url}", ref: {branch: main}}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: apps, namespace: default}
spec: {interval: 10m, path: ./apps, prune: true, sourceRef: {kind: GitRepository, name: apps}}
`,
      'apps/cm.yaml': configMap('default', 'app-settings', '{mode: store}'),
    });
    await e.apply(kustomization('flux-system', '  path: ./clusters/main'));
    await appliedCommit(e, 'flux-system', nested);
    const apps = await appliedCommit(e, 'apps', nested);
    const stored = await e.engine.store.get({ kind: 'ConfigMap', namespace: 'default', name: 'app-settings' });
    expect(stored?.metadata.labels).toMatchObject({ 'kustomize.toolkit.fluxcd.io/name': 'apps' });
    expect(statusOf(apps).inventory?.entries).toEqual([{ id: 'default_app-settings__ConfigMap', v: 'v1' }]);
    expect((await eventMessages(e, 'flux-system')).join('\n')).toContain('Kustomization/default/apps created');

    // Deleting the parent (MirrorPrune with prune: true) deletes what it applied, then the parent itself.
    await e.engine.store.delete(ks('flux-system'));
    await eventually(async () => (await e.get(ks('flux-system'))) === undefined && (await e.get(ks('apps'))) === undefined, { what: 'both Kustomizations to be gone' });
    await eventually(async () => (await e.engine.store.get({ kind: 'ConfigMap', namespace: 'default', name: 'app-settings' })) === undefined, { what: 'the nested app to be pruned' });
  });

  it('waits quietly for a source that has not fetched yet, then applies when it has, with no warning', async () => {
    repo = createRepo({ files: { 'app/cm.yaml': configMap('default', 'later', '{k: v}') } });
    t = await startTestEngine({ receiverAddress: { host: '127.0.0.1', port: 0 } });
    // A suspended source is never fetched: it stays without an artifact until resumed.
    const source = (suspend: boolean) => `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: repo, namespace: default}
spec: {interval: 10m, url: "${repo.url}", ref: {branch: main}, suspend: ${suspend}}
`;
    await t.apply(`${source(true)}---\n${kustomization('patient', '  path: ./app')}`);
    const waiting = await t.waitForReady(ks('patient'), (ready) => ready.status === 'False');
    expect(statusOf(waiting).conditions?.find((c) => c.type === 'Ready')).toMatchObject({
      reason: 'DependencyNotReady',
      message: "waiting for source GitRepository 'default/repo' to fetch its first artifact",
    });
    await t.apply(source(false));
    await appliedCommit(t, 'patient', repo.revParse());
    const warnings = (await t.engine.store.listEvents({ kind: 'Kustomization', namespace: 'default', name: 'patient' })).filter((e) => e.type === 'Warning');
    expect(warnings).toEqual([]);
  });
});
