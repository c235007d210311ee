import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import type { KObject } from '../src/api/meta.ts';
import { KubeRest } from '../src/apply/kube-rest.ts';
import { ensureCustomResourceDefinitions } from '../src/store/kubernetes/ensure-crds.ts';
import {
  openKubernetesStore,
  type KubernetesStore,
  type KubernetesStoreOptions,
} from '../src/store/kubernetes/kubernetes-store.ts';
import { InvalidObjectError, type WatchEvent } from '../src/store/store.ts';
import { eventually } from './harness/eventually.ts';
import { kubeTestContext } from './harness/kube.ts';
import { relayedKubeConfig } from './harness/relayed-kubeconfig.ts';
import { runTracked } from './harness/tracked-process.ts';

const kube = kubeTestContext();

beforeAll(async () => {
  const rest = new KubeRest(kube.kubeConfig);
  await ensureCustomResourceDefinitions(rest).finally(() => rest.close());
});

/** A store on the test's namespace, closed after the test. */
async function openStore(options: KubernetesStoreOptions = {}): Promise<KubernetesStore> {
  const ns = kube.namespace();
  const store = await openKubernetesStore({
    kubeConfig: kube.kubeConfig,
    watchAllNamespaces: false,
    namespace: ns,
    defaultNamespace: ns,
    ...options,
  });
  onTestFinished(() => store.close());
  return store;
}

const repo = (
  name: string,
  labels?: Record<string, string>,
  url = `https://example.com/${name}.git`,
): KObject => ({
  apiVersion: 'source.toolkit.fluxcd.io/v1',
  kind: 'GitRepository',
  metadata: { name, ...(labels ? { labels } : {}) },
  spec: { url, interval: '1m' },
});

function recorder(
  store: KubernetesStore,
  kind = 'GitRepository',
): { events: WatchEvent[]; summary: () => string[] } {
  const events: WatchEvent[] = [];
  store.watch(kind, (event) => events.push(event));
  return { events, summary: () => events.map((e) => `${e.type} ${e.object.metadata.name}`) };
}

describe('kubernetes store', () => {
  it('delivers a change of this process to its watchers before the write settles', async () => {
    const store = await openStore();
    const { summary } = recorder(store);
    const ref = { kind: 'GitRepository', namespace: kube.namespace(), name: 'podinfo' };
    await store.apply({
      ...repo('podinfo'),
      metadata: { name: 'podinfo', finalizers: ['finalizers.fluxcd.io'] },
    });
    expect(summary()).toEqual(['ADDED podinfo']);
    await store.updateStatus(ref, { observedGeneration: 1 });
    expect(summary()).toHaveLength(2);
    await store.delete(ref);
    expect(summary()).toHaveLength(3);
    const marked = await store.get(ref);
    await store.update({ ...marked!, metadata: { ...marked!.metadata, finalizers: [] } });
    expect(summary()).toEqual(['ADDED podinfo', 'MODIFIED podinfo', 'MODIFIED podinfo', 'DELETED podinfo']);
  });

  it('keeps watching through a dropped connection: what changed meanwhile is delivered once', async () => {
    const { relay, kubeConfig } = await relayedKubeConfig(kube.kubeConfig);
    onTestFinished(() => relay.close());
    const direct = await openStore();
    for (const name of ['kept', 'changed', 'removed']) await direct.apply(repo(name));
    const store = await openStore({ kubeConfig });
    const { summary } = recorder(store);
    await store.apply(repo('before'));
    expect(summary()).toEqual(['ADDED before']);

    relay.cut();
    await direct.apply(repo('changed', undefined, 'https://example.com/moved.git'));
    await direct.delete({ kind: 'GitRepository', namespace: kube.namespace(), name: 'removed' });
    await direct.apply(repo('added'));
    relay.restore();

    await eventually(
      () => expect(summary().slice(1).sort()).toEqual(['ADDED added', 'DELETED removed', 'MODIFIED changed']),
      { timeoutMs: 60_000, what: 'the changes made while the API server was unreachable' },
    );
    await store.apply(repo('after'));
    expect(summary().slice(1).sort()).toEqual([
      'ADDED added',
      'ADDED after',
      'DELETED removed',
      'MODIFIED changed',
    ]);
  });

  it('lists and watches only the shard its label selector names, as Flux sharding does', async () => {
    const shard = (key: string) => ({ 'sharding.fluxcd.io/key': key });
    const store = await openStore({ labelSelector: 'sharding.fluxcd.io/key in (shard1)' });
    const main = await openStore({ labelSelector: '!sharding.fluxcd.io/key' });
    const { summary } = recorder(store);
    const mainEvents = recorder(main);
    await main.apply(repo('one', shard('shard1')));
    await main.apply(repo('two', shard('shard2')));
    await main.apply(repo('unsharded'));
    expect((await store.list('GitRepository')).map((o) => o.metadata.name)).toEqual(['one']);
    expect((await main.list('GitRepository')).map((o) => o.metadata.name)).toEqual(['unsharded']);
    await main.apply(repo('one', shard('shard2')));
    await store.apply(repo('three', shard('shard1')));
    await eventually(() => expect(summary()).toEqual(['ADDED one', 'DELETED one', 'ADDED three']));
    expect(mainEvents.summary()).toEqual(['ADDED unsharded']);
  });

  it.each([
    ['a value its schema refuses', { interval: '5 minutes' }, /spec\.interval/],
    ['a field its schema does not have', { interval: '5m', prunne: false }, /spec\.prunne|prunne/],
    ['a missing required field', { interval: '5m', prune: undefined }, /spec\.prune/],
  ])('refuses a Kustomization with %s, naming the field', async (_name, change, message) => {
    const store = await openStore();
    const kustomization: KObject = {
      apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
      kind: 'Kustomization',
      metadata: { name: 'broken' },
      spec: { prune: true, sourceRef: { kind: 'GitRepository', name: 'podinfo' }, ...change },
    };
    const refused = await store.apply(kustomization).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(InvalidObjectError);
    expect((refused as Error).message).toMatch(message);
    expect((refused as Error).message).toContain(`Kustomization ${kube.namespace()}/broken`);
    expect(
      await store.get({ kind: 'Kustomization', namespace: kube.namespace(), name: 'broken' }),
    ).toBeUndefined();
  });

  it('records events that kubectl events and kubectl describe show, a repeat counted up', async () => {
    const store = await openStore();
    const ns = kube.namespace();
    const { object } = await store.apply(repo('podinfo'));
    const event = (type: 'Normal' | 'Warning', reason: string, message: string) => ({
      type,
      reason,
      message,
      involvedObject: {
        apiVersion: object.apiVersion,
        kind: 'GitRepository',
        namespace: ns,
        name: 'podinfo',
        uid: object.metadata.uid,
      },
      annotations: { 'source.toolkit.fluxcd.io/revision': 'main@sha1:0123' },
      reportingController: 'source-controller',
    });
    await store.recordEvent(event('Normal', 'NewArtifact', 'stored artifact for commit 0123'));
    await store.recordEvent(event('Normal', 'NewArtifact', 'stored artifact for commit 0123'));
    await store.recordEvent(
      event('Warning', 'GitOperationFailed', 'failed to checkout: authentication required'),
    );
    const listed = await store.listEvents({ kind: 'GitRepository', name: 'podinfo' });
    expect(listed.map((e) => [e.type, e.reason, e.count, e.reportingController])).toEqual([
      ['Warning', 'GitOperationFailed', 1, 'source-controller'],
      ['Normal', 'NewArtifact', 2, 'source-controller'],
    ]);
    expect(listed[1]?.annotations).toEqual({ 'source.toolkit.fluxcd.io/revision': 'main@sha1:0123' });

    const kubectl = (...args: string[]) =>
      runTracked('kubectl', ['--kubeconfig', kube.kubeconfigPath, '-n', ns, ...args], { timeoutMs: 30_000 });
    const events = await kubectl('events', '--for', 'gitrepository/podinfo');
    expect(events.stderr).toBe('');
    expect(events.stdout).toMatch(
      /Normal\s+NewArtifact\s+GitRepository\/podinfo\s+stored artifact for commit 0123/,
    );
    expect(events.stdout).toMatch(/\(x2 over/);
    expect(events.stdout).toMatch(
      /Warning\s+GitOperationFailed\s+GitRepository\/podinfo\s+failed to checkout/,
    );
    // Another instance (a new leader, a restarted pod) that never wrote it counts the same Event up, and this
    // one, whose remembered copy is now stale, counts on from what the server has.
    const other = await openStore();
    await other.recordEvent(event('Normal', 'NewArtifact', 'stored artifact for commit 0123'));
    await store.recordEvent(event('Normal', 'NewArtifact', 'stored artifact for commit 0123'));
    const counted = await store.listEvents({ kind: 'GitRepository', name: 'podinfo' });
    expect(counted.filter((e) => e.reason === 'NewArtifact').map((e) => e.count)).toEqual([4]);

    const described = await kubectl('describe', 'gitrepository', 'podinfo');
    expect(described.stdout).toMatch(
      /Normal\s+NewArtifact\s+.*source-controller\s+stored artifact for commit 0123/,
    );
    expect(described.stdout).toMatch(
      /Warning\s+GitOperationFailed\s+.*source-controller\s+failed to checkout/,
    );
  });
});
