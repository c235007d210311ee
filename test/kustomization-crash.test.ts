import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Kustomization } from '../src/api/kustomization.ts';
import type { KObject } from '../src/api/meta.ts';
import { ownerLabels } from '../src/apply/owner-labels.ts';
import type { Engine } from '../src/engine.ts';
import { openSqliteStore } from '../src/store/sqlite/sqlite-store.ts';
import type { Store } from '../src/store/store.ts';
import { cleanupDataDir, newDataDir, startTestEngine } from './fixtures/host/app-harness.ts';
import { eventually } from './harness/eventually.ts';
import { createRepo, type TestRepo } from './harness/git-repo.ts';
import { spawnTracked as spawn } from './harness/tracked-process.ts';

const BULK = 2_000;
const owner = { name: 'bulk', namespace: 'default' };
const ksRef = { kind: 'Kustomization', namespace: 'default', name: 'bulk' };
const repoRef = { kind: 'GitRepository', namespace: 'default', name: 'repo' };

const keep = 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: keep}\ndata: {k: v}\n';
const bulk = Array.from(
  { length: BULK },
  (_, i) => `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bulk-${i}}\ndata: {i: "${i}"}\n`,
).join('---\n');

let child: ChildProcess | undefined;
let engine: Engine | undefined;
let store: Store | undefined;
let dataDir: string | undefined;
let repo: TestRepo | undefined;

afterEach(async () => {
  child?.kill('SIGKILL');
  child = undefined;
  await store?.close();
  store = undefined;
  await engine?.stop();
  engine = undefined;
  if (dataDir) await cleanupDataDir(dataDir);
  dataDir = undefined;
  if (repo) rmSync(dirname(repo.dir), { recursive: true, force: true });
  repo = undefined;
});

/** ConfigMaps in the store carrying the Kustomization's owner labels. */
const owned = async (s: Store): Promise<KObject[]> => s.list('ConfigMap', { labels: ownerLabels(owner) });

/** Asks for a fetch now (as `kedge reconcile source git` does) and waits until the artifact is `commit`. */
async function fetchNow(s: Store, commit: string): Promise<void> {
  const object = (await s.get(repoRef))!;
  object.metadata.annotations = {
    ...object.metadata.annotations,
    'reconcile.fluxcd.io/requestedAt': `${Date.now()}`,
  };
  await s.update(object);
  await eventually(
    async () =>
      (
        (await s.get(repoRef))?.status as { artifact?: { revision?: string } } | undefined
      )?.artifact?.revision?.endsWith(commit),
    {
      what: `GitRepository at ${commit}`,
      timeoutMs: 180_000,
    },
  );
}

async function appliedCommit(s: Store, commit: string): Promise<Kustomization> {
  return eventually(
    async () => {
      const k = (await s.get(ksRef)) as Kustomization | undefined;
      const ready = k?.status?.conditions?.find((c) => c.type === 'Ready');
      if (ready?.status !== 'True' || !k?.status?.lastAppliedRevision?.endsWith(commit))
        throw new Error(`Ready ${ready?.status}: ${ready?.message}`);
      return k;
    },
    { what: `Kustomization bulk Ready at ${commit}`, timeoutMs: 300_000 },
  );
}

describe('Kustomization store target: a crash while writing', () => {
  it('prunes every object written before a SIGKILL once a commit removes them', async () => {
    dataDir = await newDataDir();
    repo = createRepo({ files: { 'deploy/keep.yaml': keep } });
    child = spawn(
      process.execPath,
      ['--import', 'tsx', join(import.meta.dirname, 'fixtures/host/engine-main.ts'), dataDir],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const exited = once(child, 'exit');
    await eventually(() => once(child!.stdout!, 'data').then(([chunk]) => String(chunk).includes('ready')), {
      timeoutMs: 180_000,
      what: 'engine started',
    });
    store = await openSqliteStore(dataDir);
    await store.apply({
      apiVersion: 'source.toolkit.fluxcd.io/v1',
      kind: 'GitRepository',
      metadata: { name: 'repo', namespace: 'default' },
      spec: { interval: '10m', url: repo.url, ref: { branch: 'main' } },
    });
    await store.apply({
      apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
      kind: 'Kustomization',
      metadata: { name: 'bulk', namespace: 'default' },
      spec: {
        interval: '10m',
        prune: true,
        path: './deploy',
        sourceRef: { kind: 'GitRepository', name: 'repo' },
      },
    });
    await appliedCommit(store, repo.revParse());

    // A commit adding many objects; the engine is killed while some, but not all, are written.
    const added = repo.commit({ 'deploy/bulk.yaml': bulk }, { message: 'add bulk' });
    await fetchNow(store, added);
    const written = await eventually(
      async () => {
        const count = (await owned(store!)).length - 1;
        return count > 0 && count < BULK && count;
      },
      { what: 'the engine writing the bulk objects', timeoutMs: 300_000, intervalMs: 20 },
    );
    child.kill('SIGKILL');
    await exited;
    child = undefined;
    const left = (await owned(store)).length - 1;
    expect(left).toBeGreaterThanOrEqual(written);
    expect(left).toBeLessThan(BULK);

    // A commit removing them. The Kustomization is suspended while the engine is down so that the next engine
    // applies the removal first, as it does whenever the source fetches before the Kustomization's first run
    // (re-applying the old revision first would list every object in the inventory and hide an orphan).
    const removed = repo.commit({ 'deploy/bulk.yaml': null }, { message: 'remove bulk' });
    const suspend = async (suspended: boolean) => {
      const k = (await store!.get(ksRef))!;
      await store!.update({ ...k, spec: { ...(k.spec as object), suspend: suspended } });
    };
    await suspend(true);
    await store.close();
    store = undefined;

    engine = await startTestEngine(dataDir);
    await fetchNow(engine.store, removed);
    const k = (await engine.store.get(ksRef)) as Kustomization;
    await engine.store.update({ ...k, spec: { ...k.spec!, suspend: false } });
    const done = await appliedCommit(engine.store, removed);

    expect(done.status?.inventory?.entries).toEqual([{ id: 'default_keep__ConfigMap', v: 'v1' }]);
    expect((await owned(engine.store)).map((o) => o.metadata.name)).toEqual(['keep']);
  }, 600_000);
});
