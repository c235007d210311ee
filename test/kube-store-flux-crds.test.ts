import { readFile, readdir } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { CrdPartOfLabel } from '../src/api/crds.ts';
import type { KObject } from '../src/api/meta.ts';
import { KubeRest } from '../src/apply/kube-rest.ts';
import { startDevCluster, type DevCluster } from '../src/devcluster/dev-cluster.ts';
import { ensureCustomResourceDefinitions } from '../src/store/kubernetes/ensure-crds.ts';
import { openKubernetesStore } from '../src/store/kubernetes/kubernetes-store.ts';
import { describeStoreConformance } from '../src/store/store-conformance.ts';
import type { WatchEvent } from '../src/store/store.ts';
import { eventually } from './harness/eventually.ts';
import { relayedKubeConfig } from './harness/relayed-kubeconfig.ts';

// Flux's CRDs and Kedge's share names (gitrepositories.source.toolkit.fluxcd.io, …): this file has a control
// plane of its own, so the run's shared one keeps Kedge's.
let cluster: DevCluster | undefined;
let kubeConfig: KubeConfig;
let rest: KubeRest;

beforeAll(async () => {
  cluster = await startDevCluster({ onProgress: (line) => process.stderr.write(`[flux-crds] ${line}\n`) });
  kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(cluster.kubeconfigPath);
  rest = new KubeRest(kubeConfig);
  const dir = join(import.meta.dirname, 'fixtures', 'flux-crds');
  const flux: KObject[] = [];
  for (const file of (await readdir(dir)).filter((f) => f.endsWith('.yaml')))
    for (const doc of parseAllDocuments(await readFile(join(dir, file), 'utf8')))
      flux.push(doc.toJS() as KObject);
  // Flux's first, as on a cluster that ran Flux; then Kedge's ensure, which must use them as they are.
  const fluxResult = await ensureCustomResourceDefinitions(rest, { crds: flux });
  expect(fluxResult.created).toHaveLength(2);
  const kedge = await ensureCustomResourceDefinitions(rest);
  expect(kedge.existing.sort()).toEqual(flux.map((c) => c.metadata.name).sort());
  for (const crd of flux) {
    const live = await rest.request<KObject>(
      'GET',
      `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata.name}`,
    );
    expect(live.metadata.labels?.[CrdPartOfLabel], `${crd.metadata.name} is still Flux's`).toBeUndefined();
    expect(live.metadata.annotations?.['controller-gen.kubebuilder.io/version']).toBe('v0.21.0');
  }
}, 180_000);

afterAll(async () => {
  rest?.close();
  await cluster?.stop();
}, 60_000);

async function newNamespace(): Promise<string> {
  const name = `kedge-test-${randomBytes(4).toString('hex')}`;
  await rest.request('POST', '/api/v1/namespaces', {
    body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name } },
  });
  return name;
}

describeStoreConformance(
  'kubernetes, Flux v1.9.6 CRDs',
  async () => {
    const [main, other] = [await newNamespace(), await newNamespace()];
    const open = () => openKubernetesStore({ kubeConfig, defaultNamespace: main });
    return { store: await open(), openAnother: open, namespaces: [main, other], cleanup: async () => {} };
  },
  {
    coreKindGeneration: false,
    gitRepositoryDefaults: { spec: { timeout: '60s' }, status: { observedGeneration: -1 } },
  },
);

const repo = (name: string, url = `https://example.com/${name}.git`): KObject => ({
  apiVersion: 'source.toolkit.fluxcd.io/v1',
  kind: 'GitRepository',
  metadata: { name },
  spec: { url, interval: '1m' },
});

/** Gives the kind a new watch cache on the API server: its old resourceVersions expire (410 Gone). */
async function replaceWatchCache(): Promise<void> {
  const path =
    '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gitrepositories.source.toolkit.fluxcd.io';
  const crd = await rest.request<{ spec: { versions: { additionalPrinterColumns?: unknown[] }[] } }>(
    'GET',
    path,
  );
  const version = crd.spec.versions[0]!;
  version.additionalPrinterColumns = [
    ...(version.additionalPrinterColumns ?? []),
    { name: `Probe${randomBytes(2).toString('hex')}`, jsonPath: '.spec.interval', type: 'string' },
  ];
  await rest.request('PUT', path, { body: crd });
}

describe('kubernetes store watch when its resourceVersion expires', () => {
  it('re-lists and delivers exactly the differences: nothing twice, nothing lost', async () => {
    const ns = await newNamespace();
    const { relay, kubeConfig: relayed } = await relayedKubeConfig(kubeConfig);
    onTestFinished(() => relay.close());
    const direct = await openKubernetesStore({ kubeConfig, defaultNamespace: ns });
    onTestFinished(() => direct.close());
    const store = await openKubernetesStore({
      kubeConfig: relayed,
      watchAllNamespaces: false,
      namespace: ns,
      defaultNamespace: ns,
    });
    onTestFinished(() => store.close());
    for (const name of ['kept', 'changed', 'removed', 'recreated']) await direct.apply(repo(name));
    const events: WatchEvent[] = [];
    store.watch('GitRepository', (event) => events.push(event));
    await store.apply(repo('marker'));
    expect(events.map((e) => `${e.type} ${e.object.metadata.name}`)).toEqual(['ADDED marker']);
    events.length = 0;

    // Cut off: changes it cannot see, then its kind's watch cache is replaced.
    relay.cut();
    const recreatedBefore = await direct.get({ kind: 'GitRepository', namespace: ns, name: 'recreated' });
    await direct.apply(repo('changed', 'https://example.com/changed-twice.git'));
    await direct.updateStatus(
      { kind: 'GitRepository', namespace: ns, name: 'changed' },
      { observedGeneration: 2 },
    );
    await direct.delete({ kind: 'GitRepository', namespace: ns, name: 'removed' });
    await direct.delete({ kind: 'GitRepository', namespace: ns, name: 'recreated' });
    await direct.apply(repo('recreated', 'https://example.com/recreated-anew.git'));
    await direct.apply(repo('added'));
    await direct.apply(repo('transient'));
    await direct.delete({ kind: 'GitRepository', namespace: ns, name: 'transient' });
    await replaceWatchCache();
    relay.restore();

    const summary = () =>
      events.map((e) => `${e.type} ${e.object.metadata.name} ${(e.object.spec as { url: string }).url}`);
    await eventually(
      () =>
        expect(summary().sort()).toEqual([
          'ADDED added https://example.com/added.git',
          'ADDED recreated https://example.com/recreated-anew.git',
          'DELETED recreated https://example.com/recreated.git',
          'DELETED removed https://example.com/removed.git',
          'MODIFIED changed https://example.com/changed-twice.git',
        ]),
      { timeoutMs: 60_000, what: 'the differences after the re-list' },
    );
    const recreated = events.filter((e) => e.object.metadata.name === 'recreated');
    expect(recreated.map((e) => e.type)).toEqual(['DELETED', 'ADDED']);
    expect(recreated[0]?.object.metadata.uid).toBe(recreatedBefore?.metadata.uid);
    expect(events.find((e) => e.type === 'MODIFIED')?.object.status).toEqual({ observedGeneration: 2 });
    const lists = store.watchLists('GitRepository');
    expect(lists).toBeGreaterThanOrEqual(2);

    // Connected: the server ends the watch with the old cache; the resume meets the new one (429 while it
    // initializes, then 410 Gone: too old resource version) and the store re-lists, delivering nothing twice.
    await direct.apply(repo('late'));
    await eventually(() => expect(summary()).toContain('ADDED late https://example.com/late.git'));
    events.length = 0;
    await replaceWatchCache();
    await eventually(() => expect(store.watchLists('GitRepository')).toBe(lists + 1), {
      timeoutMs: 60_000,
      what: 'a re-list after 410 Gone',
    });
    await store.apply(repo('after'));
    expect(summary()).toEqual(['ADDED after https://example.com/after.git']);
  });
});
