import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { appliedCommit, eventMessages, ks } from './fixtures/kustomization/helpers.ts';
import { eventually } from './harness/eventually.ts';
import { createRepo, type TestRepo } from './harness/git-repo.ts';
import { kubeTestContext } from './harness/kube.ts';
import { startTcpRelay, type TcpRelay } from './harness/tcp-relay.ts';
import { startTestEngine, type TestEngine } from './harness/test-engine.ts';

const kube = kubeTestContext();

const configMap = (ns: string, name: string, greeting: string): string => `apiVersion: v1
kind: ConfigMap
metadata: {name: ${name}, namespace: ${ns}}
data: {greeting: ${greeting}}
`;

/** A Deployment that never becomes available here (no controller-manager): a health wait on it lasts its timeout. */
const neverReady = (ns: string): string => `apiVersion: apps/v1
kind: Deployment
metadata: {name: stuck, namespace: ${ns}}
spec:
  replicas: 1
  selector: {matchLabels: {app: stuck}}
  template:
    metadata: {labels: {app: stuck}}
    spec: {containers: [{name: app, image: nginx:1.27}]}
`;

const sourceAndKustomization = (
  url: string,
  name: string,
  path: string,
  spec = '',
): string => `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: ${name}, namespace: default}
spec: {interval: 10m, url: "${url}", ref: {branch: main}}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: ${name}, namespace: default}
spec:
  interval: 10m
  path: ${path}
  prune: true
  sourceRef: {kind: GitRepository, name: ${name}}
${spec}`;

/** Kustomization reconciles the engine ran so far (every result). */
async function kustomizationReconciles(t: TestEngine): Promise<number> {
  const metric = await t.engine.metrics.reconciles.get();
  return metric.values.filter((v) => v.labels.kind === 'Kustomization').reduce((sum, v) => sum + v.value, 0);
}

describe('drift undo', () => {
  let t: TestEngine | undefined;
  let repo: TestRepo;
  let ns: string;
  let relay: TcpRelay | undefined;
  let scratch: string | undefined;

  beforeEach(() => {
    ns = kube.namespace();
    repo = createRepo({
      files: { 'app/cm.yaml': configMap(ns, 'settings', 'hello'), 'slow/deploy.yaml': neverReady(ns) },
    });
  });
  afterEach(async () => {
    await t?.stop();
    t = undefined;
    await relay?.close();
    relay = undefined;
    if (scratch) rmSync(scratch, { recursive: true, force: true });
    scratch = undefined;
    rmSync(dirname(repo.dir), { recursive: true, force: true });
  });

  const read = async (): Promise<string | undefined> =>
    (await kube.core.readNamespacedConfigMap({ name: 'settings', namespace: ns })).data?.greeting;
  const edit = (greeting: string) =>
    kube.apply(
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'settings', namespace: ns },
        data: { greeting },
      },
      'kubectl-edit',
    );

  it('restores an edited object from the applied manifests, without reconciling the Kustomization again', async () => {
    t = await startTestEngine({ kubeconfig: inject('kubeconfig') });
    await t.apply(sourceAndKustomization(repo.url, 'app', './app'));
    await appliedCommit(t, 'app', repo.revParse());
    const reconciles = await kustomizationReconciles(t);

    await edit('hacked');
    await eventually(async () => (await read()) === 'hello', { what: 'the edit to be undone' });
    const messages = await eventMessages(t, 'app');
    expect(messages).toContainEqual(
      expect.stringContaining(`ConfigMap/${ns}/settings drifted: data.greeting`),
    );
    expect(messages).toContainEqual(`Progressing: ConfigMap/${ns}/settings configured`);
    // No fetch, no render, no apply of the whole set: the undo is not a reconcile.
    expect(await kustomizationReconciles(t)).toBe(reconciles);
  });

  it('coalesces a burst of edits of one object into fewer undos than edits', async () => {
    t = await startTestEngine({ kubeconfig: inject('kubeconfig') });
    await t.apply(sourceAndKustomization(repo.url, 'app', './app'));
    await appliedCommit(t, 'app', repo.revParse());
    const undos = async () =>
      (await eventMessages(t!, 'app')).filter((m) => m === `Progressing: ConfigMap/${ns}/settings configured`)
        .length;

    const edits = 8;
    await Promise.all(Array.from({ length: edits }, (_, i) => edit(`hacked-${i}`)));
    await eventually(async () => (await read()) === 'hello', { what: 'the edits to be undone' });
    // Nothing is left to undo: the object stays as applied.
    await eventually(async () => (await read()) === 'hello' && (await undos()) > 0, {
      what: 'an undo event',
    });
    expect(await undos()).toBeLessThan(edits);
  });

  it('undoes drift while the only reconcile worker is held by another Kustomization waiting for health', async () => {
    t = await startTestEngine({ kubeconfig: inject('kubeconfig'), concurrency: 1 });
    await t.apply(sourceAndKustomization(repo.url, 'app', './app'));
    await appliedCommit(t, 'app', repo.revParse());
    await t.apply(sourceAndKustomization(repo.url, 'slow', './slow', '  wait: true\n  timeout: 10m\n'));
    await t.waitForReady(ks('slow'), (ready) => ready.status === 'Unknown', 60_000);
    await eventually(
      async () => {
        const slow = await t!.get(ks('slow'));
        const healthy = (
          slow?.status as { conditions?: { type: string; message: string }[] } | undefined
        )?.conditions?.find((c) => c.type === 'Healthy');
        return healthy?.message.startsWith('Running health checks');
      },
      { what: 'slow to wait for its Deployment' },
    );

    await edit('hacked');
    await eventually(async () => (await read()) === 'hello', { what: 'the edit to be undone' });
    // The other Kustomization still holds the worker: the undo did not wait for it.
    const slow = await t.get(ks('slow'));
    expect(
      (slow?.status as { conditions?: { type: string; status: string }[] }).conditions?.find(
        (c) => c.type === 'Ready',
      )?.status,
    ).toBe('Unknown');
  });

  it('finds an edit made while its watch connection was cut once the connection is back', async () => {
    const server = new URL(kube.kubeConfig.getCurrentCluster()!.server);
    relay = await startTcpRelay({ host: server.hostname, port: Number(server.port) });
    const viaRelay = new KubeConfig();
    viaRelay.loadFromOptions({
      clusters: kube.kubeConfig.clusters.map((c) => ({ ...c, server: `https://127.0.0.1:${relay!.port}` })),
      users: kube.kubeConfig.users,
      contexts: kube.kubeConfig.contexts,
      currentContext: kube.kubeConfig.currentContext,
    });
    scratch = mkdtempSync(join(tmpdir(), 'kedge-relay-'));
    const kubeconfig = join(scratch, 'kubeconfig');
    writeFileSync(kubeconfig, viaRelay.exportConfig());
    t = await startTestEngine({ kubeconfig });
    await t.apply(sourceAndKustomization(repo.url, 'app', './app'));
    await appliedCommit(t, 'app', repo.revParse());

    relay.cut();
    await edit('hacked-while-cut');
    expect(await read()).toBe('hacked-while-cut');
    relay.restore();
    await eventually(async () => (await read()) === 'hello', {
      what: 'the edit made while cut to be undone',
    });
  });
});
