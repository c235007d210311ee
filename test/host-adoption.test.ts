import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFile, readdir, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SourceRevisionAnnotation, type App, type AppSpec } from '../src/api/app.ts';
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

/**
 * Loading the engine's modules (TypeScript, through tsx) here and now: most of what an engine in its own process
 * costs before it prints ready (its store and servers open in milliseconds).
 */
const harness = JSON.stringify(join(import.meta.dirname, 'fixtures/host/app-harness.ts'));
const tsStartMs = await measureStartMs([
  '--import',
  'tsx',
  '--input-type=module',
  '-e',
  `await import(${harness});`,
]);
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
  return eventually(
    async () => {
      const current = await readyApp(
        engine!.store,
        name,
        app.metadata.annotations![SourceRevisionAnnotation]!,
        2,
      );
      return current && current.status?.lastHandledReconcileAt === requestedAt && current;
    },
    { what: `${name} reconciled by the new engine` },
  );
}

/** Runs the App in an engine of its own process, waits until it is ready, then kills that engine with SIGKILL. */
async function runInKilledEngine(
  name: string,
  spec: Partial<AppSpec>,
): Promise<{ source: { artifact: string; revision: string }; before: App }> {
  child = spawn(
    process.execPath,
    ['--import', 'tsx', join(import.meta.dirname, 'fixtures/host/engine-main.ts'), dataDir],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  await eventually(() => once(child!.stdout!, 'data').then(([chunk]) => String(chunk).includes('ready')), {
    timeoutMs: engineProcessStartBudgetMs,
    what: 'the engine in its own process to print ready',
  });
  const source = await packApp(dataDir, name, { 'server.js': serverScript('v1') });
  const store = await openSqliteStore(dataDir);
  let before: App;
  try {
    await store.apply(appObject(name, source, spec));
    before = await eventually(() => readyApp(store, name, source.revision, spec.replicas ?? 1), {
      what: 'App ready in the child engine',
    });
  } finally {
    await store.close();
  }
  child.kill('SIGKILL');
  await once(child, 'exit');
  child = undefined;
  expect(pidsOf(before).every(alive)).toBe(true);
  return { source, before };
}

async function registryPids(): Promise<number[]> {
  const { replicas } = JSON.parse(await readFile(join(dataDir, 'host', 'replicas.json'), 'utf8')) as {
    replicas: Array<{ pid: number }>;
  };
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
    const after = await reconciledByThisEngine(
      'kept',
      appObject('kept', source, { replicas: 2, expose: { port: expose } }),
    );
    expect(await eventually(() => httpGet(expose))).toMatch(/^v1 /);
    expect(pidsOf(after)).toEqual(pidsOf(before));
    expect(await registryPids()).toEqual(pidsOf(before));
    const started = (await engine.store.listEvents({ kind: 'App', name: 'kept' })).filter(
      (e) => e.reason === 'Started',
    );
    expect(started.reduce((n, e) => n + e.count, 0)).toBe(2);

    // This engine stops its apps.
    await engine.stop();
    engine = undefined;
    await eventually(() => pidsOf(before).every((pid) => !alive(pid)), {
      what: 'replicas stopped with the engine',
    });
  });

  it(
    'leaves no orphan when the engine is killed hard and started again',
    async () => {
      dataDir = await newDataDir();
      const { source, before } = await runInKilledEngine('survivor', { replicas: 2 });

      engine = await startTestEngine(dataDir);
      const after = await reconciledByThisEngine('survivor', appObject('survivor', source, { replicas: 2 }));
      expect(pidsOf(after)).toEqual(pidsOf(before));
      expect(await registryPids()).toEqual(pidsOf(before));
      await engine.stop();
      engine = undefined;
      await eventually(() => pidsOf(before).every((pid) => !alive(pid)), {
        what: 'no replica outlives the engine',
      });
      // The engine process's start, then four waits of eventually()'s default 20 s.
    },
    engineProcessStartBudgetMs + 4 * 20_000,
  );

  // After a crash the registry may be torn, garbage or gone: the engine must still know every replica it left.
  const damages = {
    'a truncated registry (the previous version is used)': {
      files: ['replicas.json'],
      damage: 'truncate',
      adopted: true,
    },
    'garbage in both registry versions (found by their marker in /proc)': {
      files: ['replicas.json', 'replicas.json.prev'],
      damage: 'garbage',
      adopted: false,
    },
    'both registry versions deleted (found by their marker in /proc)': {
      files: ['replicas.json', 'replicas.json.prev'],
      damage: 'delete',
      adopted: false,
    },
  } as const;
  for (const [title, { files, damage, adopted }] of Object.entries(damages)) {
    it(
      `leaves no replica unmanaged after a hard kill and ${title}`,
      async () => {
        dataDir = await newDataDir();
        const expose = await freePort();
        const { source, before } = await runInKilledEngine('damaged', {
          replicas: 2,
          expose: { port: expose },
        });
        const hostDir = join(dataDir, 'host');
        const original = await readFile(join(hostDir, 'replicas.json'), 'utf8');
        for (const file of files) {
          if (damage === 'truncate') await truncate(join(hostDir, file), 17);
          if (damage === 'garbage')
            await writeFile(join(hostDir, file), '\u0000{"version": 1, "apps": [oops\n');
          if (damage === 'delete') await rm(join(hostDir, file), { force: true });
        }
        const damaged =
          damage === 'delete' ? undefined : await readFile(join(hostDir, 'replicas.json'), 'utf8');

        engine = await startTestEngine(dataDir);
        const after = await reconciledByThisEngine(
          'damaged',
          appObject('damaged', source, { replicas: 2, expose: { port: expose } }),
        );
        expect(await eventually(() => httpGet(expose))).toMatch(/^v1 /);
        if (adopted) {
          expect(pidsOf(after)).toEqual(pidsOf(before));
        } else {
          // Replaced: every replica of the killed engine is stopped, none runs unmanaged next to the new ones.
          await eventually(() => pidsOf(before).every((pid) => !alive(pid)), {
            what: 'old replicas stopped',
          });
          expect(pidsOf(after).some((pid) => pidsOf(before).includes(pid))).toBe(false);
        }
        expect(await registryPids()).toEqual(pidsOf(after));
        // The damaged file is kept for a post-mortem, not overwritten.
        if (damaged !== undefined) {
          const names = await readdir(hostDir);
          const aside = names.find((n) => n.startsWith('replicas.json.corrupt-'));
          expect(aside, `a corrupt-* copy among ${names.join(', ')}`).toBeDefined();
          expect(await readFile(join(hostDir, aside!), 'utf8')).toBe(damaged);
          expect(damaged).not.toBe(original);
        }
        await engine.stop();
        engine = undefined;
        await eventually(() => [...pidsOf(before), ...pidsOf(after)].every((pid) => !alive(pid)), {
          what: 'no replica outlives the engine',
        });
        // The engine process's start, then up to seven waits of eventually()'s default 20 s.
      },
      engineProcessStartBudgetMs + 7 * 20_000,
    );
  }

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
    await eventually(() => pidsOf(before).every((pid) => !alive(pid)), {
      what: 'replicas of the deleted App stopped',
    });
    await eventually(async () => (await registryPids()).length === 0, { what: 'registry emptied' });
  });
});
