import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SourceRevisionAnnotation, type App } from '../src/api/app.ts';
import type { Engine } from '../src/engine.ts';
import { openSqliteStore } from '../src/store/sqlite/sqlite-store.ts';
import { eventually } from './harness/eventually.ts';
import { measureStartMs, startsBudgetMs } from './harness/budget.ts';
import { spawnTracked as spawn } from './harness/tracked-process.ts';
import {
  alive,
  appObject,
  cleanupDataDir,
  freePort,
  httpGet,
  newDataDir,
  packApp,
  pidsOf,
  readyApp,
  serverScript,
  startTestEngine,
} from './fixtures/host/app-harness.ts';

/** One start of the TypeScript CLI here and now: an engine in its own process starts at about that cost. */
const tsStartMs = await measureStartMs(['--import', 'tsx', join(import.meta.dirname, '../src/cli/main.ts'), '--version']);
const engineProcessStartBudgetMs = startsBudgetMs(1, tsStartMs);

let engine: Engine | undefined;
let child: ChildProcess | undefined;
let dataDir: string;

afterEach(async () => {
  child?.kill('SIGKILL');
  child = undefined;
  await engine?.stop();
  engine = undefined;
  await cleanupDataDir(dataDir);
});

/** Asks the running engine for a reconcile and waits until it handled it: status is then its own, not a predecessor's. */
async function reconciledByThisEngine(name: string, app: App): Promise<App> {
  const requestedAt = new Date().toISOString();
  const annotations = { ...app.metadata.annotations, 'reconcile.fluxcd.io/requestedAt': requestedAt };
  await engine!.store.apply({ ...app, metadata: { ...app.metadata, annotations } });
  return eventually(async () => {
    const current = await readyApp(engine!.store, name, app.metadata.annotations![SourceRevisionAnnotation]!, 2);
    return current && current.status?.lastHandledReconcileAt === requestedAt && current;
  }, { what: `${name} reconciled by the new engine` });
}

async function registryPids(): Promise<number[]> {
  const { replicas } = JSON.parse(await readFile(join(dataDir, 'host', 'replicas.json'), 'utf8')) as { replicas: Array<{ pid: number }> };
  return replicas.map((r) => r.pid).sort((a, b) => a - b);
}

describe('host runtime: engine restarts', () => {
  it('adopts the replicas an engine left running, without starting duplicates', async () => {
    dataDir = await newDataDir();
    engine = await startTestEngine(dataDir, { leaveAppsRunning: true });
    const expose = await freePort();
    const source = await packApp(dataDir, 'kept', { 'server.js': serverScript('v1') });
    await engine.store.apply(appObject('kept', source, { replicas: 2, expose: { port: expose } }));
    const before = await eventually(() => readyApp(engine!.store, 'kept', source.revision, 2));
    await engine.stop();
    engine = undefined;
    expect(pidsOf(before).every(alive)).toBe(true);

    engine = await startTestEngine(dataDir);
    const after = await reconciledByThisEngine('kept', appObject('kept', source, { replicas: 2, expose: { port: expose } }));
    expect(await eventually(() => httpGet(expose))).toMatch(/^v1 /);
    expect(pidsOf(after)).toEqual(pidsOf(before));
    expect(await registryPids()).toEqual(pidsOf(before));
    const started = (await engine.store.listEvents({ kind: 'App', name: 'kept' })).filter((e) => e.reason === 'Started');
    expect(started.reduce((n, e) => n + e.count, 0)).toBe(2);

    // This engine stops its apps.
    await engine.stop();
    engine = undefined;
    await eventually(() => pidsOf(before).every((pid) => !alive(pid)), { what: 'replicas stopped with the engine' });
  });

  it('leaves no orphan when the engine is killed hard and started again', async () => {
    dataDir = await newDataDir();
    child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'fixtures/host/engine-main.ts'), dataDir], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await eventually(() => once(child!.stdout!, 'data').then(([chunk]) => String(chunk).includes('ready')), {
      timeoutMs: engineProcessStartBudgetMs,
      what: 'the engine in its own process to print ready',
    });
    const source = await packApp(dataDir, 'survivor', { 'server.js': serverScript('v1') });
    const store = await openSqliteStore(dataDir);
    let before;
    try {
      await store.apply(appObject('survivor', source, { replicas: 2 }));
      before = await eventually(() => readyApp(store, 'survivor', source.revision, 2), { what: 'App ready in the child engine' });
    } finally {
      await store.close();
    }
    child.kill('SIGKILL');
    await once(child, 'exit');
    child = undefined;
    expect(pidsOf(before).every(alive)).toBe(true);

    engine = await startTestEngine(dataDir);
    const after = await reconciledByThisEngine('survivor', appObject('survivor', source, { replicas: 2 }));
    expect(pidsOf(after)).toEqual(pidsOf(before));
    expect(await registryPids()).toEqual(pidsOf(before));
    await engine.stop();
    engine = undefined;
    await eventually(() => pidsOf(before).every((pid) => !alive(pid)), { what: 'no replica outlives the engine' });
    // The engine process's start, then four waits of eventually()'s default 20 s.
  }, engineProcessStartBudgetMs + 4 * 20_000);

  it('stops the replicas of an App deleted while no engine ran', async () => {
    dataDir = await newDataDir();
    engine = await startTestEngine(dataDir, { leaveAppsRunning: true });
    const source = await packApp(dataDir, 'forgotten', { 'server.js': serverScript('v1') });
    await engine.store.apply(appObject('forgotten', source, { replicas: 2 }));
    const before = await eventually(() => readyApp(engine!.store, 'forgotten', source.revision, 2));
    await engine.stop();
    engine = undefined;
    const store = await openSqliteStore(dataDir);
    await store.delete({ kind: 'App', namespace: 'default', name: 'forgotten' }).finally(() => store.close());
    expect(pidsOf(before).every(alive)).toBe(true);

    engine = await startTestEngine(dataDir);
    await eventually(() => pidsOf(before).every((pid) => !alive(pid)), { what: 'replicas of the deleted App stopped' });
    await eventually(async () => (await registryPids()).length === 0, { what: 'registry emptied' });
  });
});
