import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/runtime/logger.ts';
import { createRepo, type TestRepo } from './harness/git-repo.ts';
import { startHttpGitServer, type HttpGitServer } from './harness/git-servers.ts';
import { startTestEngine, type TestEngine } from './harness/test-engine.ts';

/** What an operator scrapes and reads: metrics under Flux's names, health endpoints, JSON logs without secrets. */
describe('engine observability', () => {
  let t: TestEngine;
  let repo: TestRepo;
  let server: HttpGitServer;
  const logLines: string[] = [];

  beforeAll(async () => {
    const sink = new PassThrough();
    sink.on('data', (chunk: Buffer) => logLines.push(...chunk.toString().split('\n').filter(Boolean)));
    t = await startTestEngine({ log: createLogger({ level: 'debug', format: 'json', destination: sink }) });
    repo = createRepo({ files: { 'a.yaml': 'a: 1\n' }, name: 'private' });
    server = await startHttpGitServer({ root: join(repo.dir, '..'), basicAuth: { username: 'ann', password: 'hunter2-very-secret' } });
  });
  afterAll(async () => {
    await t.stop();
    await server.stop();
    rmSync(join(repo.dir, '..'), { recursive: true, force: true });
  });

  it('serves /healthz, /readyz and Prometheus metrics with Flux names and labels', async () => {
    await t.apply(`apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: observed, namespace: default}
spec: {interval: 10m, url: '${repo.url}', ref: {branch: main}}
`);
    await t.waitForReady({ kind: 'GitRepository', namespace: 'default', name: 'observed' });
    const base = t.engine.metricsUrl;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/^gotk_reconcile_duration_seconds_count\{kind="GitRepository",name="observed",namespace="default"\} [1-9]/m);
    expect(metrics).toMatch(/^gotk_suspend_status\{kind="GitRepository",name="observed",namespace="default"\} 0$/m);
    expect(metrics).toMatch(/^kedge_reconcile_total\{kind="GitRepository",result="success"\} [1-9]/m);
    expect(metrics).toMatch(/^kedge_workqueue_depth\{kind="GitRepository"\} \d+$/m);
    expect(metrics).toMatch(/^kedge_git_fetch_duration_seconds_count\{operation="checkout",result="success"\} [1-9]/m);
  });

  it('writes JSON log lines, and never the credentials of a failing repository', async () => {
    await t.apply(`apiVersion: v1
kind: Secret
metadata: {name: wrong, namespace: default}
stringData: {username: ann, password: not-the-password-42}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: denied, namespace: default}
spec: {interval: 10m, url: '${server.url('private')}', ref: {branch: main}, secretRef: {name: wrong}}
`);
    await t.waitForReady({ kind: 'GitRepository', namespace: 'default', name: 'denied' }, (ready) => ready.status === 'False');
    const records = logLines.map((line) => JSON.parse(line) as { msg?: string; name?: string; level: number });
    expect(records.some((r) => r.name === 'denied' && r.level >= 40)).toBe(true);
    expect(logLines.join('\n')).not.toContain('not-the-password-42');
    expect(logLines.join('\n')).not.toContain('hunter2-very-secret');
  });
});
