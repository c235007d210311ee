import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { KObject } from '../src/api/meta.ts';
import { appliedCommit, fetchNow, ks } from './fixtures/kustomization/helpers.ts';
import { eventually } from './harness/eventually.ts';
import { createRepo, type TestRepo } from './harness/git-repo.ts';
import { startTestEngine, type TestEngine } from './harness/test-engine.ts';

// One artifact revision is extracted once and shared by every Kustomization that uses it; each render writes its
// kustomization file into a private overlay dir. Store target (no cluster): what is checked is what was rendered.

const configMap = (name: string, data: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ${name}, namespace: default}\ndata: ${data}\n`;

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

const files = (version: string): Record<string, string> => ({
  'apps/a/kustomization.yaml': 'resources: [settings.yaml]\n',
  'apps/a/settings.yaml': configMap('settings', `{version: "${version}", color: "\${color:=none}"}`),
  'apps/b/one.yaml': configMap('b-one', `{version: "${version}"}`),
  'apps/b/nested/two.yaml': configMap('b-two', `{version: "${version}"}`),
});

/** What is in the engine's scratch dir: extracted artifacts and anything a render left behind. */
function scratch(t: TestEngine): { artifacts: string[]; other: string[]; overlays: string[] } {
  const dir = join(t.dataDir, 'tmp');
  const names = readdirSync(dir);
  const artifacts = names.filter((n) => n.startsWith('kedge-artifact-')).map((n) => join(dir, n));
  const overlays = artifacts.flatMap((a) =>
    readdirSync(a, { recursive: true, encoding: 'utf8' }).filter((p) =>
      p.split('/').some((s) => s.startsWith('.kedge-overlay-')),
    ),
  );
  return { artifacts, other: names.filter((n) => !n.startsWith('kedge-artifact-')), overlays };
}

const stored = async (t: TestEngine, name: string): Promise<KObject | undefined> =>
  t.engine.store.get({ kind: 'ConfigMap', namespace: 'default', name });

describe('Kustomizations sharing one artifact', () => {
  let t: TestEngine | undefined;
  let repo: TestRepo | undefined;

  afterEach(async () => {
    await t?.stop();
    t = undefined;
    if (repo) rmSync(dirname(repo.dir), { recursive: true, force: true });
  });

  it('render their own path and overlay from one extraction, unaffected by each other, and leave no old revision on disk', async () => {
    repo = createRepo({ files: files('1') });
    t = await startTestEngine({ receiverAddress: { host: '127.0.0.1', port: 0 } });
    await t.apply(`apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: repo, namespace: default}
spec: {interval: 10m, url: "${repo.url}", ref: {branch: main}}
---
${kustomization('prefixed', '  path: ./apps/a\n  namePrefix: pre-\n  commonMetadata: {labels: {team: prefixed}}')}
---
${kustomization('plain-b', '  path: ./apps/b\n  nameSuffix: -b')}
---
${kustomization('substituted', '  path: ./apps/a\n  postBuild:\n    substitute: {color: blue}')}
`);
    const first = repo.git('rev-parse', 'HEAD');
    for (const name of ['prefixed', 'plain-b', 'substituted']) await appliedCommit(t, name, first);

    // The same path rendered with a prefix for one and a substitution for the other: neither sees the other's
    // (without postBuild nothing is substituted, as in Flux).
    expect((await stored(t, 'pre-settings'))?.data).toEqual({ version: '1', color: '${color:=none}' });
    expect((await stored(t, 'pre-settings'))?.metadata.labels).toMatchObject({ team: 'prefixed' });
    expect((await stored(t, 'settings'))?.data).toEqual({ version: '1', color: 'blue' });
    expect((await stored(t, 'settings'))?.metadata.labels?.['team']).toBeUndefined();
    // A generated kustomization (no file in apps/b) lists what is in the repository, not another render's files.
    expect((await stored(t, 'b-one-b'))?.data).toEqual({ version: '1' });
    expect((await stored(t, 'b-two-b'))?.data).toEqual({ version: '1' });
    const configMaps = (await t.engine.store.list('ConfigMap')).map((o) => o.metadata.name).sort();
    expect(configMaps).toEqual(['b-one-b', 'b-two-b', 'pre-settings', 'settings']);

    // One extraction of the revision, as in the repository, and nothing else left in the scratch dir.
    const once = scratch(t);
    expect(once.artifacts).toHaveLength(1);
    expect(once.other).toEqual([]);
    expect(once.overlays).toEqual([]);
    expect(readFileSync(join(once.artifacts[0]!, 'apps/a/kustomization.yaml'), 'utf8')).toBe(
      'resources: [settings.yaml]\n',
    );
    expect(readdirSync(join(once.artifacts[0]!, 'apps/b')).sort()).toEqual(['nested', 'one.yaml']);

    // A new revision: every Kustomization moves to it, and the old extraction is gone.
    repo.commit(files('2'), { message: 'version 2' });
    const second = repo.git('rev-parse', 'HEAD');
    await fetchNow(t, 'repo', second);
    for (const name of ['prefixed', 'plain-b', 'substituted']) await appliedCommit(t, name, second);
    expect((await stored(t, 'pre-settings'))?.data).toEqual({ version: '2', color: '${color:=none}' });
    expect((await stored(t, 'settings'))?.data).toEqual({ version: '2', color: 'blue' });
    await eventually(
      () => scratch(t!).artifacts.length === 1 && !scratch(t!).artifacts.includes(once.artifacts[0]!),
      {
        what: 'the old revision’s extraction to be removed',
      },
    );
    const after = scratch(t);
    expect(after.other).toEqual([]);
    expect(after.overlays).toEqual([]);
    expect(readFileSync(join(after.artifacts[0]!, 'apps/a/settings.yaml'), 'utf8')).toContain('version: "2"');
  });

  it('reconciles an unchanged revision from the cached render: a store object edited out of band is restored', async () => {
    repo = createRepo({ files: files('1') });
    t = await startTestEngine({ receiverAddress: { host: '127.0.0.1', port: 0 } });
    await t.apply(`apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: repo, namespace: default}
spec: {interval: 10m, url: "${repo.url}", ref: {branch: main}}
---
${kustomization('app', '  path: ./apps/b')}
`);
    await appliedCommit(t, 'app', repo.git('rev-parse', 'HEAD'));
    const edited = (await stored(t, 'b-one'))!;
    edited.data = { version: 'edited' };
    await t.engine.store.apply(edited);
    expect((await stored(t, 'b-one'))?.data).toEqual({ version: 'edited' });

    const object = (await t.get(ks('app')))!;
    const token = `${Date.now()}`;
    object.metadata.annotations = {
      ...object.metadata.annotations,
      'reconcile.fluxcd.io/requestedAt': token,
    };
    await t.engine.store.update(object);
    await t.waitForReady(
      ks('app'),
      (ready, o) =>
        ready.status === 'True' &&
        (o?.status as { lastHandledReconcileAt?: string }).lastHandledReconcileAt === token,
    );
    expect((await stored(t, 'b-one'))?.data).toEqual({ version: '1' });

    // Deleting the Kustomization prunes what it applied (its cached render is dropped with it).
    await t.engine.store.delete(ks('app'));
    await eventually(
      async () => (await stored(t!, 'b-one')) === undefined && (await stored(t!, 'b-two')) === undefined,
      {
        what: 'the deleted Kustomization’s objects to be pruned',
      },
    );
  });
});
