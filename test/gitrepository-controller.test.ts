import { createHash } from 'node:crypto';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { GitRepositoryStatus } from '../src/api/gitrepository.ts';
import type { KObject } from '../src/api/meta.ts';
import { EngineAlreadyRunningError } from '../src/store/engine-lock.ts';
import { startEngine } from '../src/engine.ts';
import { createLogger } from '../src/runtime/logger.ts';
import { eventually } from './harness/eventually.ts';
import { createGpgKey, createRepo, type TestGpgKey, type TestRepo } from './harness/git-repo.ts';
import { startHttpGitServer, type HttpGitServer } from './harness/git-servers.ts';
import { startTestEngine, type TestEngine } from './harness/test-engine.ts';

const ref = (name: string) => ({ kind: 'GitRepository', namespace: 'default', name });
const statusOf = (o: KObject) => o.status as GitRepositoryStatus;
const condition = (o: KObject, type: string) => statusOf(o).conditions?.find((c) => c.type === type);

function gitRepository(name: string, spec: string): string {
  return `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: ${name}, namespace: default}
spec:
  interval: 10m
${spec}`;
}

/** Asks for an immediate reconcile as `kedge reconcile` and `flux reconcile` do, and waits until it is handled. */
async function reconcileNow(t: TestEngine, name: string): Promise<KObject> {
  const token = `${Date.now()}-${Math.random()}`;
  const object = (await t.get(ref(name)))!;
  object.metadata.annotations = { ...object.metadata.annotations, 'reconcile.fluxcd.io/requestedAt': token };
  await t.engine.store.update(object);
  return eventually(async () => {
    const current = (await t.get(ref(name)))!;
    if (statusOf(current).lastHandledReconcileAt !== token) throw new Error('request not handled yet');
    return current;
  });
}

async function checkoutsCounted(t: TestEngine): Promise<number> {
  const metric = await t.engine.metrics.gitFetchDuration.get();
  return metric.values
    .filter((v) => v.metricName === 'kedge_git_fetch_duration_seconds_count' && v.labels.operation === 'checkout')
    .reduce((sum, v) => sum + v.value, 0);
}

describe('GitRepository reconciler', () => {
  let t: TestEngine;
  let repo: TestRepo;

  beforeAll(async () => {
    t = await startTestEngine();
  });
  afterAll(async () => {
    await t.stop();
  });
  afterEach(() => {
    if (repo) rmSync(join(repo.dir, '..'), { recursive: true, force: true });
  });

  it('stores an artifact for a branch, served by the artifact server with the recorded digest', async () => {
    repo = createRepo({ files: { 'deploy/app.yaml': 'kind: ConfigMap\n', 'README.md': '# hi\n' } });
    const head = repo.revParse();
    await t.apply(gitRepository('branch', `  url: ${repo.url}\n  ref: {branch: main}`));
    const ready = await t.waitForReady(ref('branch'));
    const artifact = statusOf(ready).artifact!;
    expect(artifact.revision).toBe(`main@sha1:${head}`);
    expect(artifact.path).toBe(`gitrepository/default/branch/${head}.tar.gz`);
    expect(condition(ready, 'Ready')).toMatchObject({ reason: 'Succeeded', message: `stored artifact for revision 'main@sha1:${head}'` });
    expect(condition(ready, 'ArtifactInStorage')?.status).toBe('True');
    expect(statusOf(ready).observedGeneration).toBe(1);

    const response = await fetch(artifact.url);
    expect(response.status).toBe(200);
    const bytes = Buffer.from(await response.arrayBuffer());
    expect(`sha256:${createHash('sha256').update(bytes).digest('hex')}`).toBe(artifact.digest);
    expect(bytes.length).toBe(artifact.size);
  });

  it('fetches a new commit on request, records a NewArtifact event, and skips the fetch when nothing moved', async () => {
    repo = createRepo({ files: { 'a.yaml': 'a: 1\n' } });
    await t.apply(gitRepository('moving', `  url: ${repo.url}\n  ref: {branch: main}`));
    await t.waitForReady(ref('moving'));
    const next = repo.commit({ 'a.yaml': 'a: 2\n' }, { message: 'bump a to 2' });

    const after = await reconcileNow(t, 'moving');
    expect(statusOf(after).artifact?.revision).toBe(`main@sha1:${next}`);
    const events = await t.engine.store.listEvents({ kind: 'GitRepository', name: 'moving' });
    expect(events.map((e) => [e.reason, e.message])).toContainEqual(['NewArtifact', "stored artifact for commit 'bump a to 2'"]);
    expect(events.find((e) => e.message.includes('bump a'))?.annotations).toEqual({ 'source.toolkit.fluxcd.io/revision': `main@sha1:${next}` });

    const checkouts = await checkoutsCounted(t);
    const unchanged = await reconcileNow(t, 'moving');
    expect(await checkoutsCounted(t)).toBe(checkouts);
    expect(statusOf(unchanged).artifact).toEqual(statusOf(after).artifact);
  });

  it.each([
    ['tag', (r: TestRepo) => (r.tag('v1.0.0'), '{tag: v1.0.0}'), (c: string) => `v1.0.0@sha1:${c}`],
    ['semver', (r: TestRepo) => (r.tag('v1.2.0'), r.tag('v0.9.0'), "{semver: '>=1.0.0'}"), (c: string) => `v1.2.0@sha1:${c}`],
    ['commit', (r: TestRepo) => `{commit: ${r.revParse()}}`, (c: string) => `sha1:${c}`],
    ['name', (r: TestRepo) => (r.setRef('refs/pull/1/head', r.revParse()), '{name: refs/pull/1/head}'), (c: string) => `refs/pull/1/head@sha1:${c}`],
  ])('records Flux revisions for a %s reference', async (kind, makeRef, expected) => {
    repo = createRepo({ files: { 'x.yaml': `x: ${kind}\n` } });
    const refSpec = makeRef(repo);
    await t.apply(gitRepository(`ref-${kind}`, `  url: ${repo.url}\n  ref: ${refSpec}`));
    const ready = await t.waitForReady(ref(`ref-${kind}`));
    expect(statusOf(ready).artifact?.revision).toBe(expected(repo.revParse()));
  });

  it('keeps the last good artifact when the branch disappears, and says why', async () => {
    repo = createRepo({ files: { 'a.yaml': 'a: 1\n' } });
    repo.commit({ 'b.yaml': 'b\n' }, { branch: 'feature' });
    await t.apply(gitRepository('gone', `  url: ${repo.url}\n  ref: {branch: feature}`));
    const good = statusOf(await t.waitForReady(ref('gone'))).artifact!;
    repo.git('checkout', '-q', 'main');
    repo.deleteRef('refs/heads/feature');

    const failed = await reconcileNow(t, 'gone');
    expect(condition(failed, 'Ready')).toMatchObject({ status: 'False', reason: 'GitOperationFailed' });
    expect(condition(failed, 'Ready')?.message).toMatch(/feature/);
    expect(condition(failed, 'FetchFailed')?.status).toBe('True');
    expect(condition(failed, 'Reconciling')?.reason).toBe('ProgressingWithRetry');
    expect(statusOf(failed).artifact).toEqual(good);
    expect(existsSync(join(t.dataDir, 'artifacts', good.path))).toBe(true);
    const warnings = await t.engine.store.listEvents({ kind: 'GitRepository', name: 'gone' });
    expect(warnings.some((e) => e.type === 'Warning' && e.reason === 'GitOperationFailed')).toBe(true);
  });

  it('stalls on an invalid semver range instead of retrying', async () => {
    repo = createRepo({ files: { 'a.yaml': 'a\n' } });
    await t.apply(gitRepository('badsemver', `  url: ${repo.url}\n  ref: {semver: 'not a range'}`));
    const stalled = await t.waitForReady(ref('badsemver'), (r) => r.status === 'False');
    expect(condition(stalled, 'Stalled')?.status).toBe('True');
    expect(condition(stalled, 'Reconciling')).toBeUndefined();
  });

  it('keeps several artifacts as retention allows and no more', async () => {
    repo = createRepo({ files: { 'a.yaml': 'a: 0\n' } });
    await t.apply(gitRepository('retained', `  url: ${repo.url}\n  ref: {branch: main}`));
    await t.waitForReady(ref('retained'));
    for (let i = 1; i <= 4; i++) {
      repo.commit({ 'a.yaml': `a: ${i}\n` });
      await reconcileNow(t, 'retained');
    }
    const files = readdirSync(join(t.dataDir, 'artifacts/gitrepository/default/retained')).filter((f) => f.endsWith('.tar.gz'));
    expect(files).toHaveLength(3);
    expect(files).toContain(`${repo.revParse()}.tar.gz`);
  });

  it('removes the artifacts of a deleted GitRepository', async () => {
    repo = createRepo({ files: { 'a.yaml': 'a\n' } });
    await t.apply(gitRepository('doomed', `  url: ${repo.url}\n  ref: {branch: main}`));
    await t.waitForReady(ref('doomed'));
    await t.engine.store.delete(ref('doomed'));
    await eventually(() => !existsSync(join(t.dataDir, 'artifacts/gitrepository/default/doomed')), { what: 'artifact dir removed' });
  });

  it('rebuilds a repository that includes another when the included one changes', async () => {
    repo = createRepo({ files: { 'app/a.yaml': 'a\n' } });
    const lib = createRepo({ files: { 'manifests/lib.yaml': 'lib: 1\n' }, name: 'lib' });
    await t.apply(gitRepository('lib', `  url: ${lib.url}\n  ref: {branch: main}`));
    await t.apply(
      gitRepository('withlib', `  url: ${repo.url}\n  ref: {branch: main}\n  include:\n  - repository: {name: lib}\n    fromPath: manifests\n    toPath: vendor/lib`),
    );
    const first = statusOf(await t.waitForReady(ref('withlib')));
    expect(first.includedArtifacts).toHaveLength(1);
    lib.commit({ 'manifests/lib.yaml': 'lib: 2\n' });
    await reconcileNow(t, 'lib');
    await eventually(async () => statusOf((await t.get(ref('withlib')))!).artifact!.digest !== first.artifact!.digest, {
      what: 'includer rebuilt',
    });
    rmSync(join(lib.dir, '..'), { recursive: true, force: true });
  });
});

describe('GitRepository auth and verification against real servers', () => {
  let t: TestEngine;
  let server: HttpGitServer;
  let repo: TestRepo;
  let key: TestGpgKey;

  beforeAll(async () => {
    t = await startTestEngine();
    repo = createRepo({ files: { 'a.yaml': 'a\n' }, name: 'private' });
    server = await startHttpGitServer({ root: join(repo.dir, '..'), basicAuth: { username: 'bob', password: 's3cret-pass' } });
    key = createGpgKey();
  });
  afterAll(async () => {
    await t.stop();
    await server.stop();
    key.dispose();
    rmSync(join(repo.dir, '..'), { recursive: true, force: true });
  });

  const secret = (name: string, data: string) => `apiVersion: v1\nkind: Secret\nmetadata: {name: ${name}, namespace: default}\nstringData:\n${data}`;

  it('fetches over HTTP with basic auth from the referenced Secret', async () => {
    await t.apply(secret('good-creds', '  username: bob\n  password: s3cret-pass\n'));
    await t.apply(gitRepository('http-ok', `  url: ${server.url('private')}\n  ref: {branch: main}\n  secretRef: {name: good-creds}`));
    const ready = await t.waitForReady(ref('http-ok'));
    expect(statusOf(ready).artifact?.revision).toBe(`main@sha1:${repo.revParse()}`);
  });

  it('says authentication failed for wrong credentials, without the password anywhere', async () => {
    await t.apply(secret('bad-creds', '  username: bob\n  password: wrong-pass-123\n'));
    await t.apply(gitRepository('http-bad', `  url: ${server.url('private')}\n  ref: {branch: main}\n  secretRef: {name: bad-creds}`));
    const failed = await t.waitForReady(ref('http-bad'), (r) => r.status === 'False');
    expect(condition(failed, 'Ready')?.reason).toBe('AuthenticationFailed');
    const events = await t.engine.store.listEvents({ name: 'http-bad' });
    const everything = JSON.stringify([failed, events]);
    expect(everything).not.toContain('wrong-pass-123');
  });

  it('names the missing Secret', async () => {
    await t.apply(gitRepository('no-secret', `  url: ${server.url('private')}\n  ref: {branch: main}\n  secretRef: {name: nowhere}`));
    const failed = await t.waitForReady(ref('no-secret'), (r) => r.status === 'False');
    expect(condition(failed, 'Ready')).toMatchObject({ reason: 'AuthenticationFailed' });
    expect(condition(failed, 'Ready')?.message).toContain("'default/nowhere'");
  });

  it('verifies signed commits and refuses an unsigned one without replacing the artifact', async () => {
    const signed = createRepo({ files: { 'a.yaml': 'a\n' }, name: 'signed' });
    signed.commit({ 'b.yaml': 'b\n' }, { sign: key, message: 'signed change' });
    await t.apply(`apiVersion: v1\nkind: Secret\nmetadata: {name: pgp, namespace: default}\nstringData:\n  author.asc: |\n${key.publicKey.split('\n').map((l) => `    ${l}`).join('\n')}\n`);
    await t.apply(gitRepository('signed', `  url: ${signed.url}\n  ref: {branch: main}\n  verify: {mode: HEAD, secretRef: {name: pgp}}`));
    const ready = await t.waitForReady(ref('signed'));
    expect(condition(ready, 'SourceVerified')?.status).toBe('True');
    const good = statusOf(ready).artifact!;

    signed.commit({ 'c.yaml': 'c\n' }, { message: 'unsigned change' });
    const refused = await reconcileNow(t, 'signed');
    expect(condition(refused, 'SourceVerified')).toMatchObject({ status: 'False', reason: 'VerificationError' });
    expect(condition(refused, 'Ready')?.status).toBe('False');
    expect(statusOf(refused).artifact).toEqual(good);
    rmSync(join(signed.dir, '..'), { recursive: true, force: true });
  });
});

describe('engine lifecycle on one data dir', () => {
  it('refuses a second engine on the same data dir, naming the process that holds it', async () => {
    const t = await startTestEngine();
    try {
      await expect(
        startEngine({
          dataDir: t.dataDir,
          storageAddress: { host: '127.0.0.1', port: 0 },
          metricsAddress: { host: '127.0.0.1', port: 0 },
          log: createLogger({ level: 'silent', format: 'json' }),
        }),
      ).rejects.toThrow(EngineAlreadyRunningError);
      await expect(
        startEngine({ dataDir: t.dataDir, storageAddress: { host: '127.0.0.1', port: 0 }, metricsAddress: { host: '127.0.0.1', port: 0 }, log: createLogger({ level: 'silent' }) }),
      ).rejects.toThrow(new RegExp(`pid ${process.pid}`));
    } finally {
      await t.stop();
    }
  });

  it('continues where it stopped after a restart: same artifact, no new fetch, new commits picked up', async () => {
    const repo = createRepo({ files: { 'a.yaml': 'a\n' } });
    const t = await startTestEngine();
    try {
      await t.apply(gitRepository('durable', `  url: ${repo.url}\n  ref: {branch: main}`));
      const before = statusOf(await t.waitForReady(ref('durable'))).artifact!;
      await t.restart();
      // Every object is reconciled once on start; its artifact URL then points at the new artifact server.
      const after = await t.waitForReady(ref('durable'), (_r, o) => statusOf(o).artifact!.url.startsWith(t.engine.storageUrl));
      expect(statusOf(after).artifact?.digest).toBe(before.digest);
      expect(await checkoutsCounted(t)).toBe(0);
      // The artifact is still served, by the new artifact server.
      expect((await fetch(statusOf(after).artifact!.url)).status).toBe(200);

      const next = repo.commit({ 'a.yaml': 'b\n' });
      const moved = await reconcileNow(t, 'durable');
      expect(statusOf(moved).artifact?.revision).toBe(`main@sha1:${next}`);
    } finally {
      await t.stop();
      rmSync(join(repo.dir, '..'), { recursive: true, force: true });
    }
  });

  it('does not reconcile a suspended GitRepository until it is resumed', async () => {
    const repo = createRepo({ files: { 'a.yaml': 'a\n' } });
    const t = await startTestEngine();
    try {
      await t.apply(gitRepository('paused', `  url: ${repo.url}\n  ref: {branch: main}`));
      const first = statusOf(await t.waitForReady(ref('paused'))).artifact!;
      const object = (await t.get(ref('paused')))!;
      object.spec = { ...(object.spec as object), suspend: true };
      await t.engine.store.update(object);
      const next = repo.commit({ 'a.yaml': 'b\n' });
      const suspended = (await t.get(ref('paused')))!;
      suspended.metadata.annotations = { 'reconcile.fluxcd.io/requestedAt': 'while-suspended' };
      await t.engine.store.update(suspended);
      // A later, unsuspended object proves the engine has worked through its queue meanwhile.
      await t.apply(gitRepository('witness', `  url: ${repo.url}\n  ref: {branch: main}`));
      await t.waitForReady(ref('witness'));
      expect(statusOf((await t.get(ref('paused')))!).artifact).toEqual(first);

      const resumed = (await t.get(ref('paused')))!;
      resumed.spec = { ...(resumed.spec as { suspend?: boolean }), suspend: false };
      await t.engine.store.update(resumed);
      await eventually(async () => statusOf((await t.get(ref('paused')))!).artifact?.revision === `main@sha1:${next}`, { what: 'resumed fetch' });
    } finally {
      await t.stop();
      rmSync(join(repo.dir, '..'), { recursive: true, force: true });
    }
  });
});

