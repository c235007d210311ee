import type { ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import type { CanaryStrategy } from '../src/api/app-canary.ts';
import type { App, AppSpec } from '../src/api/app.ts';
import type { Engine } from '../src/engine.ts';
import type { Store } from '../src/store/store.ts';
import { measureStartMs, startsBudgetMs } from './harness/budget.ts';
import { KEDGE_CLI } from './harness/kedge-cli.ts';
import { runTracked } from './harness/tracked-process.ts';
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

/** Budget to wait for an outcome that takes `checks` analyses `intervalMs` apart, plus replica starts. */
const analysisBudget = (checks: number, intervalMs: number) =>
  checks * intervalMs + startsBudgetMs(2, 1_000) + 5_000;

describe('host runtime: canary releases', () => {
  it('rolls back a canary that answers 500 on 20 % of requests; stable clients see no failure', async () => {
    const { expose, spec } = await setUp();
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
    const lastFailure = Math.max(...load.failures.map((f) => f.at));
    const v1Pids = pidsOf(stable);
    expect(v1Pids.every(alive)).toBe(true);
    const answers = await Promise.all(Array.from({ length: 50 }, () => getAnswer(expose, false)));
    expect(answers.every((a) => a.status === 200 && a.version === 'v1')).toBe(true);
    expect(lastFailure).toBeLessThan(Date.now());
    const events = await engine!.store.listEvents({ kind: 'App', name: 'web' });
    expect(events.find((e) => e.reason === 'CanaryFailed')?.message).toMatch(/successRate/);
  });
});

describe('host runtime: canary releases that pass', () => {
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
