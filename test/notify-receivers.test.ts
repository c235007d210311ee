import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { request } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../src/engine.ts';
import { createRepo } from './harness/git-repo.ts';
import { startHttpGitServer } from './harness/git-servers.ts';
import { eventually } from './harness/eventually.ts';
import { execFileTracked } from './harness/tracked-process.ts';
import { manifests, startTestEngine } from './notify-endpoint.ts';

const TOKEN = 'receiver-token-123';
const hmac = (alg: string, body: string) => createHmac(alg, TOKEN).update(body).digest('hex');

let engine: Engine;
let dispose: () => Promise<void>;
let repoRoot: string;
beforeAll(async () => {
  ({ engine, dispose } = await startTestEngine());
  const repo = createRepo({ files: { 'a.yaml': 'a: 1\n' } });
  repoRoot = dirname(repo.dir);
  await engine.store.apply(manifests.secret('webhook-token', { token: TOKEN }));
});
afterAll(async () => {
  await dispose();
  rmSync(repoRoot, { recursive: true, force: true });
});

async function receiverPath(name: string): Promise<string> {
  return eventually(async () => {
    const r = await engine.store.get({ kind: 'Receiver', namespace: 'default', name });
    return (r?.status as { webhookPath?: string } | undefined)?.webhookPath;
  }, { what: `Receiver ${name} webhookPath` });
}

async function requestedAt(name: string): Promise<string | undefined> {
  const object = await engine.store.get({ kind: 'GitRepository', namespace: 'default', name });
  return object?.metadata.annotations?.['reconcile.fluxcd.io/requestedAt'];
}

async function post(path: string, body: string, headers: Record<string, string>): Promise<number> {
  const response = await fetch(`${engine.receiverUrl}${path}`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
  await response.text();
  return response.status;
}

const body = JSON.stringify({ ref: 'refs/heads/main' });

/** POSTs from a chosen local address (any of 127.0.0.0/8 works on Linux) with node:http; resolves the status. */
function postFrom(localAddress: string, path: string, text: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${engine.receiverUrl}${path}`, { method: 'POST', localAddress, headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(text);
  });
}

describe('receivers', () => {
  it.each<{ type: string; good: Record<string, string>; bad?: Record<string, string> }>([
    { type: 'generic', good: {}, bad: undefined },
    { type: 'generic-hmac', good: { 'x-signature': `sha256=${hmac('sha256', body)}` }, bad: { 'x-signature': `sha256=${hmac('sha256', 'other')}` } },
    {
      type: 'github',
      good: { 'x-github-event': 'push', 'x-hub-signature-256': `sha256=${hmac('sha256', body)}` },
      bad: { 'x-github-event': 'push', 'x-hub-signature-256': `sha256=${'0'.repeat(64)}` },
    },
    { type: 'gitlab', good: { 'x-gitlab-event': 'Push Hook', 'x-gitlab-token': TOKEN }, bad: { 'x-gitlab-event': 'Push Hook', 'x-gitlab-token': 'nope' } },
    {
      type: 'bitbucket',
      good: { 'x-event-key': 'repo:refs_changed', 'x-hub-signature': `sha256=${hmac('sha256', body)}` },
      bad: { 'x-event-key': 'repo:refs_changed', 'x-hub-signature': 'sha256=abc' },
    },
  ])('$type: a wrong request is refused with 400 and triggers nothing; a right one requests a reconcile', async ({ type, good, bad }) => {
    const target = `target-${type}`;
    await engine.store.apply(manifests.gitRepository(target, `file://${repoRoot}/repo`));
    await engine.store.apply(manifests.receiver(`r-${type}`, { type, secretRef: { name: 'webhook-token' }, resources: [{ kind: 'GitRepository', name: target }] }));
    const path = await receiverPath(`r-${type}`);
    if (bad) {
      expect(await post(path, body, bad)).toBe(400);
      expect(await requestedAt(target)).toBeUndefined();
    }
    expect(await post(path, body, good)).toBe(200);
    expect(await requestedAt(target)).toBeDefined();
  });

  it('answers a GitHub ping, filters events, 404s unknown paths and 503s when suspended', async () => {
    await engine.store.apply(manifests.gitRepository('filtered', `file://${repoRoot}/repo`));
    const spec = { type: 'github', events: ['push'], secretRef: { name: 'webhook-token' }, resources: [{ kind: 'GitRepository', name: '*' }] };
    await engine.store.apply(manifests.receiver('gh', spec));
    const path = await receiverPath('gh');
    const signed = (event: string, text = body) => ({ 'x-github-event': event, 'x-hub-signature-256': `sha256=${hmac('sha256', text)}` });
    expect(await post(path, '{"zen":"hi"}', signed('ping', '{"zen":"hi"}'))).toBe(200);
    expect(await requestedAt('filtered')).toBeUndefined();
    expect(await post(path, body, signed('issues'))).toBe(400);
    expect(await requestedAt('filtered')).toBeUndefined();
    expect(await post(`/hook/${'a'.repeat(64)}`, body, signed('push'))).toBe(404);
    await engine.store.apply(manifests.receiver('gh', { ...spec, suspend: true }));
    expect(await post(path, body, signed('push'))).toBe(503);
    expect(await requestedAt('filtered')).toBeUndefined();
  });

  it('a flood of bad signatures gets 429 for its address, never for a correctly signed push, which fetches', async () => {
    const repo = createRepo({ root: repoRoot, name: 'flooded', files: { 'a.yaml': 'v: 1\n' } });
    await engine.store.apply(manifests.gitRepository('flooded', `file://${repo.dir}`, '1h'));
    const spec = { type: 'github', events: ['push'], secretRef: { name: 'webhook-token' }, resources: [{ kind: 'GitRepository', name: 'flooded' }] };
    await engine.store.apply(manifests.receiver('flood-hook', spec));
    const revision = async () =>
      ((await engine.store.get({ kind: 'GitRepository', namespace: 'default', name: 'flooded' }))?.status as { artifact?: { revision: string } } | undefined)?.artifact
        ?.revision;
    await eventually(async () => (await revision()) === `main@sha1:${repo.revParse()}`, { what: 'the first artifact' });
    const path = await receiverPath('flood-hook');
    const next = repo.commit({ 'a.yaml': 'v: 2\n' }, { message: 'bump' });
    const payload = JSON.stringify({ ref: 'refs/heads/main', after: next });
    const signed = { 'x-github-event': 'push', 'x-hub-signature-256': `sha256=${hmac('sha256', payload)}` };
    const forged = { 'x-github-event': 'push', 'x-hub-signature-256': `sha256=${hmac('sha256', 'something else')}` };

    // 200 bad requests from 127.0.0.2, ten at a time: far past both the refused and the authenticated budget.
    const statuses: number[] = [];
    for (let wave = 0; wave < 20; wave++) {
      statuses.push(...(await Promise.all(Array.from({ length: 10 }, () => postFrom('127.0.0.2', path, payload, forged)))));
    }
    expect(statuses.filter((s) => s !== 400 && s !== 429)).toEqual([]);
    expect(statuses).toContain(429);
    expect(await requestedAt('flooded')).toBeUndefined();
    // Another address is not throttled by that flood: its bad request is a plain 400.
    expect(await postFrom('127.0.0.3', path, payload, forged)).toBe(400);

    // The correctly signed push is accepted, even from the flooding address itself, and the source fetches.
    expect(await postFrom('127.0.0.2', path, payload, signed)).toBe(200);
    await eventually(async () => (await revision()) === `main@sha1:${next}`, { what: 'the pushed revision', timeoutMs: 30_000 });
    expect(await postFrom('127.0.0.1', path, payload, signed)).toBe(200);
  });

  it('push to fetched: a git push plus a GitHub webhook fetches long before the interval', async () => {
    const root = mkdtempSync(join(tmpdir(), 'kedge-push-'));
    const work = createRepo({ root, name: 'work', files: { 'deploy.yaml': 'v: 1\n' } });
    execFileSync('git', ['clone', '-q', '--bare', work.dir, join(root, 'app.git')]);
    execFileSync('git', ['config', 'http.receivepack', 'true'], { cwd: join(root, 'app.git') });
    const server = await startHttpGitServer({ root });
    try {
      const url = server.url('app.git');
      await engine.store.apply(manifests.gitRepository('pushed', url, '1h'));
      await engine.store.apply(
        manifests.receiver('push-hook', { type: 'github', events: ['push'], secretRef: { name: 'webhook-token' }, resources: [{ kind: 'GitRepository', name: 'pushed' }] }),
      );
      const revision = async () =>
        ((await engine.store.get({ kind: 'GitRepository', namespace: 'default', name: 'pushed' }))?.status as { artifact?: { revision: string } } | undefined)?.artifact
          ?.revision;
      await eventually(async () => (await revision()) === `main@sha1:${work.revParse()}`, { what: 'the first artifact' });
      const path = await receiverPath('push-hook');

      const next = work.commit({ 'deploy.yaml': 'v: 2\n' }, { message: 'bump' });
      // Asynchronously: the git server answers from this very process.
      await execFileTracked('git', ['push', '-q', url, 'main'], { cwd: work.dir, timeoutMs: 30_000 });
      const payload = JSON.stringify({ ref: 'refs/heads/main', after: next });
      expect(await post(path, payload, { 'x-github-event': 'push', 'x-hub-signature-256': `sha256=${hmac('sha256', payload)}` })).toBe(200);
      await eventually(async () => (await revision()) === `main@sha1:${next}`, { what: 'the pushed revision', timeoutMs: 30_000 });
    } finally {
      await server.stop();
      rmSync(root, { recursive: true, force: true });
    }
  });
});
