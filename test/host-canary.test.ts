import type { ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import type { CanaryStrategy } from '../src/api/app-canary.ts';
import type { App, AppSpec } from '../src/api/app.ts';
import type { Engine } from '../src/engine.ts';
import type { Store } from '../src/store/store.ts';
import { startsBudgetMs } from './harness/budget.ts';
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
