import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { CanaryStrategy } from '../src/api/app-canary.ts';
import type { App, AppSpec } from '../src/api/app.ts';
import type { Engine } from '../src/engine.ts';
import type { Store } from '../src/store/store.ts';
import { openSqliteStore } from '../src/store/sqlite/sqlite-store.ts';
import { LoadHeadroom, measureStartMs, startsBudgetMs } from './harness/budget.ts';
import { KEDGE_CLI } from './harness/kedge-cli.ts';
import { runTracked, spawnTracked } from './harness/tracked-process.ts';
import { eventually } from './harness/eventually.ts';
import {
  alive,
  appObject,
  cleanupDataDir,
  freePort,
  getApp,
  newDataDir,
  packApp,
  pidsOf,
  readyApp,
  startTestEngine,
} from './fixtures/host/app-harness.ts';
import { canaryScript, getAnswer, steadyLoad } from './fixtures/host/canary-load.ts';
import { manifests, startEndpoint } from './notify-endpoint.ts';

let engine: Engine | undefined;
let child: ChildProcess | undefined;
let dataDir: string;
const cleanups: Array<() => Promise<void> | void> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  child?.kill('SIGKILL');
  child = undefined;
  await engine?.stop();
  engine = undefined;
  await cleanupDataDir(dataDir);
});

/** Starts an engine on a fresh data dir and returns the App spec every test shares (2 stable replicas, exposed). */
async function setUp(): Promise<{ expose: number; spec: Partial<AppSpec> }> {
  dataDir = await newDataDir();
  engine = await startTestEngine(dataDir);
  const expose = await freePort();
  return { expose, spec: { replicas: 2, expose: { port: expose } } };
}

/** Deploys v1 (stable) and waits until it serves; returns the ready App. */
async function deployStable(store: Store, name: string, spec: Partial<AppSpec>): Promise<App> {
  const v1 = await packApp(dataDir, name, { 'server.js': canaryScript('v1') });
  await store.apply(appObject(name, v1, spec));
  return eventually(() => readyApp(store, name, v1.revision, spec.replicas ?? 1), { what: 'v1 ready' });
}

async function applyCanary(
  store: Store,
  name: string,
  script: string,
  spec: Partial<AppSpec>,
  canary: CanaryStrategy,
) {
  const v2 = await packApp(dataDir, name, { 'server.js': script });
  await store.apply(appObject(name, v2, { ...spec, strategy: { maxSurge: 1, maxUnavailable: 0, canary } }));
  return v2;
}

/** What one `kedge` CLI start costs here (tsx included), for budgets. */
const cliStartMs = await measureStartMs([...KEDGE_CLI, '--help']);

function kedge(...args: string[]) {
  return runTracked(process.execPath, [...KEDGE_CLI, '--data-dir', dataDir, ...args], {
    env: { ...process.env, NO_COLOR: '1' },
    timeoutMs: startsBudgetMs(1, cliStartMs, 30_000),
  });
}

/** The App once its canary stands at step `step` (0-based) with phase `phase`. */
async function canaryAt(store: Store, name: string, phase: string, step?: number): Promise<App | false> {
  const app = await getApp(store, name);
  const c = app.status?.canary;
  return c?.phase === phase && (step === undefined || c.currentStep === step) && app;
}

const condition = (app: App, type: string) => app.status?.conditions?.find((c) => c.type === type);

/** What one replica (a node process) costs to start here, for budgets. */
const nodeStartMs = await measureStartMs(['-e', '']);

/** Budget to wait for an outcome that takes `checks` analyses `intervalMs` apart (reconciles slow down under load), plus replica starts. */
const analysisBudget = (checks: number, intervalMs: number) =>
  startsBudgetMs(2, nodeStartMs, checks * intervalMs * LoadHeadroom + 5_000);

/**
 * A whole test: about ten process starts (replicas, CLI runs), a few thousand requests and its analyses; the
 * waits inside have their own budgets, this only keeps vitest from cutting a slow but progressing test short.
 */
const testBudget = startsBudgetMs(10, nodeStartMs + cliStartMs, 120_000);

describe('host runtime: canary releases', { timeout: testBudget }, () => {
  it('rolls back a canary that answers 500 on 20 % of requests; stable clients see no failure', async () => {
    const { expose, spec } = await setUp();
    const endpoint = await startEndpoint();
    cleanups.push(() => endpoint.stop());
    await engine!.store.apply(manifests.provider('hook', { type: 'generic', address: endpoint.url }));
    await engine!.store.apply(
      manifests.alert('alert', 'hook', {
        eventSources: [{ kind: 'App', name: '*' }],
        eventSeverity: 'error',
      }),
    );
    const stable = await deployStable(engine!.store, 'web', spec);
    const load = steadyLoad(expose);
    cleanups.push(() => load.stop());
    const interval = 1_000;
    const failureLimit = 2;
    const v2 = await applyCanary(engine!.store, 'web', canaryScript('v2', { failEvery: 5 }), spec, {
      steps: [{ setWeight: 50 }, { pause: { duration: '10m' } }],
      analysis: { interval: '1s', failureLimit, successRate: { min: 99 } },
    });
    await eventually(() => load.failures.some((f) => f.version === 'v2'), {
      what: 'the canary answering 500s',
      timeoutMs: analysisBudget(1, interval),
    });
    const failed = await eventually(
      async () => {
        const app = await getApp(engine!.store, 'web');
        return condition(app, 'Ready')?.reason === 'CanaryFailed' && app;
      },
      { what: 'Ready=False CanaryFailed', timeoutMs: analysisBudget(failureLimit + 1, interval) },
    );
    // All traffic on stable again: the canary replica is gone, every answer comes from v1.
    const canaryPids = (failed.status?.replicaStatuses ?? [])
      .filter((r) => r.revision === v2.revision)
      .map((r) => r.pid ?? -1);
    await eventually(() => canaryPids.every((pid) => !alive(pid)), { what: 'canary replicas stopped' });
    const after = load.total;
    await eventually(() => load.total > after + 200, { what: '200 more answers' });
    await load.stop();

    expect(condition(failed, 'Ready')).toMatchObject({ status: 'False', reason: 'CanaryFailed' });
    expect(condition(failed, 'Ready')?.message).toMatch(
      /rolled back after 2 failed checks \(failureLimit 2\): successRate: [0-9.]+% of \d+ requests \(min 99%\)/,
    );
    expect(failed.status?.canary).toMatchObject({
      phase: 'Failed',
      weight: 0,
      canaryRevision: v2.revision,
      stableRevision: stable.status?.currentRevision,
    });
    // Clients of the stable side saw no failure: every failure is a canary's 500.
    expect(load.failures.filter((f) => f.version !== 'v2')).toEqual([]);
    const v1Pids = pidsOf(stable);
    expect(v1Pids.every(alive)).toBe(true);
    const answers = await Promise.all(Array.from({ length: 50 }, () => getAnswer(expose, false)));
    expect(answers.every((a) => a.status === 200 && a.version === 'v1')).toBe(true);
    const events = await engine!.store.listEvents({ kind: 'App', name: 'web' });
    expect(events.find((e) => e.reason === 'CanaryFailed')?.message).toMatch(/successRate/);
    // The notification: the Alert's provider got the CanaryFailed event with the failed check.
    const notified = await eventually(
      () =>
        endpoint.requests
          .map((r) => r.json() as { reason?: string; message?: string })
          .find((e) => e.reason === 'CanaryFailed'),
      { what: 'a CanaryFailed notification' },
    );
    expect(notified.message).toMatch(/successRate: [0-9.]+% of \d+ requests/);
  });
});

describe('host runtime: canary releases that pass', { timeout: testBudget }, () => {
  it('walks a good revision through every step with the weights honoured and pinned clients, then promotes it without a failed request', async () => {
    const { expose, spec } = await setUp();
    const stable = await deployStable(engine!.store, 'web', spec);
    const load = steadyLoad(expose);
    cleanups.push(() => load.stop());
    const interval = 500;
    const steps: CanaryStrategy['steps'] = [
      { setWeight: 20 },
      { pause: { duration: '1s' } },
      { setWeight: 50 },
      { pause: {} },
    ];
    const v2 = await applyCanary(engine!.store, 'web', canaryScript('v2'), spec, {
      steps,
      canaryReplicas: 1,
      analysis: { interval: '500ms', failureLimit: 1, successRate: { min: 99 }, latency: { p99Max: '2s' } },
      routing: { cookie: { name: 'kedge-side' } },
    });
    // Every step but the indefinite pause passes one analysis (the timed pause lasts 1 s): then it waits.
    const paused = await eventually(() => canaryAt(engine!.store, 'web', 'Progressing', 3), {
      what: 'canary at the indefinite pause',
      timeoutMs: analysisBudget(steps.length + 2, interval) + 1_000,
    });
    expect(paused.status?.canary).toMatchObject({
      weight: 50,
      failedChecks: 0,
      canaryRevision: v2.revision,
      stableRevision: stable.status?.currentRevision,
    });
    expect(paused.status?.canary?.lastAnalysis?.map((r) => [r.check, r.passed])).toEqual([
      ['successRate', true],
      ['latency', true],
    ]);
    const advanced = (await engine!.store.listEvents({ kind: 'App', name: 'web' })).map((e) => e.message);
    expect(advanced).toEqual(expect.arrayContaining([expect.stringMatching(/to weight 50%$/)]));
    // Stable replicas untouched; one canary replica next to them.
    const running = paused.status?.replicaStatuses ?? [];
    expect(running.filter((r) => r.revision === v2.revision)).toHaveLength(1);
    expect(pidsOf(stable).every((pid) => running.some((r) => r.pid === pid))).toBe(true);

    // The weight, over 1,200 requests from new clients (no cookie): 50 % within ± 6 points (> 4 standard deviations).
    const versions: string[] = [];
    for (let batch = 0; batch < 60; batch++) {
      const answers = await Promise.all(Array.from({ length: 20 }, () => getAnswer(expose, false)));
      versions.push(...answers.map((a) => a.version));
    }
    const share = versions.filter((v) => v === 'v2').length / versions.length;
    expect(versions.every((v) => v === 'v1' || v === 'v2')).toBe(true);
    expect(Math.abs(share - 0.5)).toBeLessThan(0.06);

    // Pinning: a client's first answer sets the cookie; every later request with it lands on the same side.
    const sides = new Set<string>();
    for (let client = 0; client < 40 && sides.size < 2; client++) {
      const first = await getAnswer(expose, false);
      expect(first.setCookie).toMatch(/^kedge-side=(canary|stable);/);
      const cookie = first.setCookie!.split(';')[0]!;
      const later = await Promise.all(Array.from({ length: 30 }, () => getAnswer(expose, false, { cookie })));
      expect(new Set(later.map((a) => a.version))).toEqual(new Set([first.version]));
      expect(later.every((a) => a.setCookie === undefined)).toBe(true);
      sides.add(first.version);
    }
    expect(sides).toEqual(new Set(['v1', 'v2']));

    // What the proxy measured, per revision: on /metrics and in `kedge get app -o wide`.
    const metrics = await (await fetch(`${engine!.metricsUrl}/metrics`)).text();
    expect(metrics).toMatch(
      new RegExp(
        `kedge_app_revision_success_ratio\\{namespace="default",name="web",revision="${v2.revision}"\\} 1`,
      ),
    );
    expect(metrics).toMatch(
      new RegExp(
        `kedge_app_revision_latency_p99_seconds\\{namespace="default",name="web",revision="${v2.revision}"\\} [0-9.e-]+`,
      ),
    );
    const wide = await kedge('get', 'app', 'web', '-o', 'wide');
    expect(wide.stderr).toBe('');
    expect(wide.stdout).toMatch(/CANARY\s+STABLE\s+CANARY-REVISION\s+TRAFFIC/);
    expect(wide.stdout).toMatch(/Progressing step 3 weight 50%/);
    expect(wide.stdout).toMatch(/main@sha1:[0-9a-f]{7}: 100% ok, p99 [0-9.]+ms, \d+ req/);

    // Promotion: the rolling update replaces the stable replicas under load, without a failed request.
    const promote = await kedge('promote', 'app', 'web');
    expect(promote.stderr).toBe('');
    expect(promote.code).toBe(0);
    const done = await eventually(() => readyApp(engine!.store, 'web', v2.revision, 2), {
      what: 'v2 rolled out',
      timeoutMs: startsBudgetMs(4, 1_000, 30_000),
    });
    await eventually(async () => (await getApp(engine!.store, 'web')).status?.canary?.phase === 'Succeeded', {
      what: 'canary Succeeded',
    });
    await eventually(() => pidsOf(stable).every((pid) => !alive(pid)), { what: 'v1 replicas stopped' });
    const after = load.total;
    await eventually(() => load.total > after + 100, { what: 'load served after the promotion' });
    await load.stop();
    expect(load.failures).toEqual([]);
    expect(condition(done, 'Ready')?.status).toBe('True');
    const events = (await engine!.store.listEvents({ kind: 'App', name: 'web' })).map((e) => e.reason);
    expect(events).toEqual(expect.arrayContaining(['Promoting', 'Succeeded']));
    expect((await kedge('abort', 'app', 'web')).stderr).toMatch(
      /has no canary to abort \(its last canary is Succeeded\)/,
    );
  });
});

describe('host runtime: canary checks', { timeout: testBudget }, () => {
  it('rolls back a revision whose p99 latency is above the limit', async () => {
    const { expose, spec } = await setUp();
    const stable = await deployStable(engine!.store, 'web', spec);
    const load = steadyLoad(expose);
    cleanups.push(() => load.stop());
    const interval = 500;
    const v2 = await applyCanary(engine!.store, 'web', canaryScript('v2', { delayMs: 300 }), spec, {
      steps: [{ setWeight: 50 }, { pause: {} }],
      analysis: { interval: '500ms', failureLimit: 2, latency: { p99Max: '100ms' } },
    });
    const failed = await eventually(
      async () => {
        const app = await getApp(engine!.store, 'web');
        return condition(app, 'Ready')?.reason === 'CanaryFailed' && app;
      },
      { what: 'Ready=False CanaryFailed', timeoutMs: analysisBudget(3, interval) },
    );
    expect(condition(failed, 'Ready')?.message).toMatch(
      /latency: p99 [0-9.]+ms over \d+ requests \(max 100ms\)/,
    );
    expect(failed.status?.canary).toMatchObject({
      phase: 'Failed',
      currentStep: 0,
      canaryRevision: v2.revision,
    });
    expect((load.byVersion.get('v2') ?? 0) > 0).toBe(true);
    await load.stop();
    expect(load.failures).toEqual([]);
    expect(pidsOf(stable).every(alive)).toBe(true);
  });

  it('holds the step while a webhook check fails, and advances once it passes', async () => {
    const { spec } = await setUp();
    await deployStable(engine!.store, 'web', spec);
    let pass = false;
    const calls: Array<{ name: string; metadata: Record<string, string> }> = [];
    const hook = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        calls.push(JSON.parse(body) as (typeof calls)[number]);
        res.writeHead(pass ? 200 : 503).end();
      });
    });
    await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => hook.close(() => resolve())));
    const url = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/check`;
    const interval = 500;
    await applyCanary(engine!.store, 'web', canaryScript('v2'), spec, {
      steps: [{ setWeight: 10 }, { setWeight: 60 }, { pause: {} }],
      analysis: { interval: '500ms', failureLimit: 1000, webhooks: [{ name: 'smoke', url, timeout: '2s' }] },
    });
    await eventually(() => calls.length >= 3, {
      what: 'three webhook checks',
      timeoutMs: analysisBudget(4, interval),
    });
    const held = await getApp(engine!.store, 'web');
    expect(held.status?.canary).toMatchObject({ phase: 'Progressing', currentStep: 0, weight: 10 });
    expect(held.status?.canary?.failedChecks).toBeGreaterThanOrEqual(2);
    expect(held.status?.canary?.lastAnalysis).toEqual([
      { check: 'webhook smoke', passed: false, value: 'HTTP 503' },
    ]);
    expect(calls[0]).toMatchObject({
      name: 'web',
      namespace: 'default',
      phase: 'Progressing',
      metadata: { weight: '10' },
    });

    pass = true;
    const advanced = await eventually(() => canaryAt(engine!.store, 'web', 'Progressing', 2), {
      what: 'canary past both setWeight steps',
      timeoutMs: analysisBudget(3, interval),
    });
    expect(advanced.status?.canary?.weight).toBe(60);
  });

  it('serves blue/green: header-pinned test traffic only, until promoted', async () => {
    const { expose, spec } = await setUp();
    await deployStable(engine!.store, 'web', spec);
    const v2 = await applyCanary(engine!.store, 'web', canaryScript('v2'), spec, {
      steps: [{ setWeight: 0 }, { pause: {} }, { setWeight: 100 }],
      analysis: { interval: '500ms' },
      routing: { header: { name: 'x-canary', value: 'always' } },
    });
    await eventually(() => canaryAt(engine!.store, 'web', 'Progressing', 1), {
      what: 'green waiting',
      timeoutMs: analysisBudget(2, 500),
    });
    const plain = await Promise.all(Array.from({ length: 100 }, () => getAnswer(expose, false)));
    const tested = await Promise.all(
      Array.from({ length: 100 }, () => getAnswer(expose, false, { 'x-canary': 'always' })),
    );
    expect(new Set(plain.map((a) => a.version))).toEqual(new Set(['v1']));
    expect(new Set(tested.map((a) => a.version))).toEqual(new Set(['v2']));
    expect((await kedge('promote', 'app', 'web')).code).toBe(0);
    await eventually(() => readyApp(engine!.store, 'web', v2.revision, 2), {
      what: 'green rolled out',
      timeoutMs: startsBudgetMs(4, 1_000, 30_000),
    });
    const after = await Promise.all(Array.from({ length: 50 }, () => getAnswer(expose, false)));
    expect(new Set(after.map((a) => a.version))).toEqual(new Set(['v2']));
  });
});

/** Loading the engine's modules in a process of its own: what its start costs before it prints ready. */
const engineStartMs = await measureStartMs([
  '--import',
  'tsx',
  '--input-type=module',
  '-e',
  `await import(${JSON.stringify(join(import.meta.dirname, 'fixtures/host/app-harness.ts'))});`,
]);

describe('host runtime: canary and engine crashes', { timeout: testBudget }, () => {
  it('resumes at the recorded step with the same replicas after the engine is killed hard', async () => {
    dataDir = await newDataDir();
    const expose = await freePort();
    const spec: Partial<AppSpec> = { replicas: 2, expose: { port: expose } };
    child = spawnTracked(
      process.execPath,
      ['--import', 'tsx', join(import.meta.dirname, 'fixtures/host/engine-main.ts'), dataDir],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    await eventually(() => once(child!.stdout!, 'data').then(([chunk]) => String(chunk).includes('ready')), {
      timeoutMs: startsBudgetMs(1, engineStartMs),
      what: 'the engine in its own process to print ready',
    });
    const store = await openSqliteStore(dataDir);
    cleanups.push(() => store.close());
    await deployStable(store, 'web', spec);
    // Traffic for the analysis to measure (a window without canary answers holds the step).
    const load = steadyLoad(expose);
    cleanups.push(() => load.stop());
    const v2 = await applyCanary(store, 'web', canaryScript('v2'), spec, {
      steps: [{ setWeight: 30 }, { pause: {} }],
      analysis: { interval: '500ms', successRate: { min: 99 } },
    });
    const before = await eventually(() => canaryAt(store, 'web', 'Progressing', 1), {
      what: 'canary at step 2',
      timeoutMs: analysisBudget(3, 500) + startsBudgetMs(1, engineStartMs),
    });
    await load.stop();
    expect(load.failures).toEqual([]);
    child.kill('SIGKILL');
    await once(child, 'exit');
    child = undefined;

    engine = await startTestEngine(dataDir);
    const requestedAt = new Date().toISOString();
    const current = await getApp(engine.store, 'web');
    await engine.store.apply({
      ...current,
      metadata: {
        ...current.metadata,
        annotations: { ...current.metadata.annotations, 'reconcile.fluxcd.io/requestedAt': requestedAt },
      },
    });
    const resumed = await eventually(
      async () => {
        const app = await getApp(engine!.store, 'web');
        return app.status?.lastHandledReconcileAt === requestedAt && app;
      },
      { what: 'the App reconciled by the new engine' },
    );
    expect(resumed.status?.canary).toMatchObject({
      phase: 'Progressing',
      currentStep: 1,
      weight: 30,
      canaryRevision: v2.revision,
    });
    expect(pidsOf(resumed)).toEqual(pidsOf(before));
    expect(pidsOf(before).every(alive)).toBe(true);
    // The split is back: both sides answer through the expose port.
    const versions = new Set<string>();
    for (let i = 0; i < 400 && versions.size < 2; i++) versions.add((await getAnswer(expose, false)).version);
    expect(versions).toEqual(new Set(['v1', 'v2']));
  });
});
