import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { App } from '../src/api/app.ts';
import type { Engine } from '../src/engine.ts';
import { isProcessGroupAlive, signalProcessGroup } from '../src/host/process-identity.ts';
import { openSqliteStore } from '../src/store/sqlite/sqlite-store.ts';
import { eventually } from './harness/eventually.ts';
import {
  alive,
  appObject,
  appRef,
  cleanupDataDir,
  freePort,
  getApp,
  httpGet,
  newDataDir,
  packApp,
  readyApp,
  serverScript,
  startTestEngine,
} from './fixtures/host/app-harness.ts';
import { spawnTracked as spawn } from './harness/tracked-process.ts';

let engine: Engine | undefined;
let child: ChildProcess | undefined;
let dataDir: string;
/** Process groups the test's setups started (leader pids), killed after the test whatever happened. */
const setupGroups = new Set<number>();

afterEach(async () => {
  child?.kill('SIGKILL');
  child = undefined;
  await engine?.stop();
  engine = undefined;
  for (const pgid of setupGroups) if (isProcessGroupAlive(pgid)) signalProcessGroup(pgid, 'SIGKILL');
  setupGroups.clear();
  await cleanupDataDir(dataDir);
});

/**
 * A setup that never finishes: starts `sleep 600` in its process group, writes `<its pid> <sleep's pid>` to
 * `$PIDFILE`, and waits.
 */
const HANGING_SETUP = `const { spawn } = require('node:child_process');
const sleeper = spawn('sleep', ['600'], { stdio: 'ignore' });
require('node:fs').writeFileSync(process.env.PIDFILE, process.pid + ' ' + sleeper.pid);
setInterval(() => {}, 60000);
`;

/** A server like {@link serverScript} that exits (at start, and within 100 ms while running) once `$CRASH_FILE` exists. */
function crashingServerScript(): string {
  const crash = `const crashNow = () => { if (require('node:fs').existsSync(process.env.CRASH_FILE)) process.exit(1); };
crashNow();
setInterval(crashNow, 100);
`;
  return crash + serverScript('flaky');
}

/** The pids (setup, its `sleep`) a hanging setup wrote, once it wrote them. */
async function setupPids(pidFile: string, not?: number): Promise<[number, number]> {
  const [setup, sleeper] = await eventually(
    async () => {
      const pids = existsSync(pidFile) && (await readFile(pidFile, 'utf8')).trim().split(' ').map(Number);
      return pids && pids.length === 2 && pids[0] !== not && pids;
    },
    { what: `setup pids in ${pidFile}`, timeoutMs: 30_000 },
  );
  setupGroups.add(setup!);
  return [setup!, sleeper!];
}

function condition(app: App, type: string) {
  return app.status?.conditions?.find((c) => c.type === type);
}

describe('host runtime: setup runs in the background', () => {
  it('keeps every App reconciling while five setups hang; stops them at the deadline, on delete and when superseded', async () => {
    dataDir = await newDataDir();
    engine = await startTestEngine(dataDir);
    const store = engine.store;
    const expose = await freePort();

    // A healthy App and an App that will crash-loop, both serving before any setup hangs.
    const v1 = await packApp(dataDir, 'web', { 'server.js': serverScript('v1') });
    await store.apply(appObject('web', v1, { expose: { port: expose } }));
    const crashFile = join(dataDir, 'crash-now');
    const flaky = await packApp(dataDir, 'flaky', { 'server.js': crashingServerScript() });
    await store.apply(
      appObject('flaky', flaky, { replicas: 2, env: [{ name: 'CRASH_FILE', value: crashFile }] }),
    );
    await eventually(() => readyApp(store, 'web', v1.revision, 1), { what: 'web v1 ready' });
    await eventually(() => readyApp(store, 'flaky', flaky.revision, 2), { what: 'flaky ready' });

    // Five Apps whose setup hangs: more than the App workers (concurrency 4). Three have a short deadline.
    const hanging = await packApp(dataDir, 'hang', {
      'server.js': serverScript('hang'),
      'hang.js': HANGING_SETUP,
    });
    const deadlineSeconds = 10;
    const names = ['hang-0', 'hang-1', 'hang-2', 'hang-3', 'hang-4'];
    for (const [i, name] of names.entries()) {
      await store.apply(
        appObject(name, hanging, {
          setup: [process.execPath, 'hang.js'],
          env: [{ name: 'PIDFILE', value: join(dataDir, `${name}.pids`) }],
          progressDeadlineSeconds: i < 3 ? deadlineSeconds : 600,
        }),
      );
    }
    const pids = new Map<string, [number, number]>();
    for (const name of names) pids.set(name, await setupPids(join(dataDir, `${name}.pids`)));

    // Status says what runs, with the setup's pid, while it runs.
    const [hang3Setup, hang3Sleep] = pids.get('hang-3')!;
    const running = await eventually(
      async () => {
        const app = await getApp(store, 'hang-3');
        const progressing = condition(app, 'Progressing');
        return (
          progressing?.status === 'True' && progressing.message.startsWith('running setup') && progressing
        );
      },
      { what: 'hang-3 Progressing: running setup' },
    );
    expect(running.message).toMatch(
      new RegExp(`^running setup for revision '${hanging.revision}' \\(pid ${hang3Setup}, \\d+s\\)$`),
    );

    // The healthy App rolls out a new revision while the setups hang.
    const v2 = await packApp(dataDir, 'web', { 'server.js': serverScript('v2') });
    await store.apply(appObject('web', v2, { expose: { port: expose } }));
    await eventually(() => readyApp(store, 'web', v2.revision, 1), {
      what: 'web v2 rolled out',
      timeoutMs: 40_000,
    });
    expect(await httpGet(expose)).toMatch(/^v2 /);
    expect(alive(hang3Setup)).toBe(true);

    // The crash-looping App's status stops claiming its replicas are available.
    await writeFile(crashFile, 'x');
    const crashing = await eventually(
      async () => {
        const app = await getApp(store, 'flaky');
        const states = (app.status?.replicaStatuses ?? []).map((r) => r.state);
        return app.status?.availableReplicas === 0 && states.includes('CrashLoopBackOff') && app;
      },
      { what: 'flaky reported unavailable', timeoutMs: 40_000 },
    );
    expect(crashing.status).toMatchObject({ readyReplicas: 0, availableReplicas: 0 });
    expect(condition(crashing, 'Available')).toMatchObject({
      status: 'False',
      reason: 'MinimumReplicasUnavailable',
    });
    expect(condition(crashing, 'Ready')?.status).toBe('False');

    // Deleting an App stops its setup at once: the setup and what it started are gone.
    await store.delete(appRef('hang-3'));
    await eventually(() => !alive(hang3Setup) && !alive(hang3Sleep), { what: 'hang-3 setup processes gone' });

    // A new revision supersedes the hanging setup: it is stopped, and the new revision deploys.
    const [hang4Setup, hang4Sleep] = pids.get('hang-4')!;
    const fixed = await packApp(dataDir, 'hang', {
      'server.js': serverScript('fixed'),
      'hang.js': 'process.exit(0)',
    });
    await store.apply(
      appObject('hang-4', fixed, {
        setup: [process.execPath, 'hang.js'],
        env: [{ name: 'PIDFILE', value: join(dataDir, 'unused') }],
      }),
    );
    await eventually(() => !alive(hang4Setup) && !alive(hang4Sleep), {
      what: 'hang-4 superseded setup processes gone',
    });
    await eventually(() => readyApp(store, 'hang-4', fixed.revision, 1), {
      what: 'hang-4 fixed revision ready',
    });

    // The short deadline stops the other three setups: Ready=False ProgressDeadlineExceeded, processes gone.
    for (const name of ['hang-0', 'hang-1', 'hang-2']) {
      const stalled = await eventually(
        async () => {
          const app = await getApp(store, name);
          return condition(app, 'Ready')?.reason === 'ProgressDeadlineExceeded' && app;
        },
        { what: `${name} ProgressDeadlineExceeded`, timeoutMs: 40_000 },
      );
      expect(condition(stalled, 'Ready')).toMatchObject({ status: 'False' });
      expect(condition(stalled, 'Stalled')).toMatchObject({
        status: 'True',
        reason: 'ProgressDeadlineExceeded',
      });
      expect(condition(stalled, 'Progressing')?.message).toBe(
        `setup of revision '${hanging.revision}' did not finish within the progress deadline of ${deadlineSeconds}s and was stopped`,
      );
      const [setup, sleeper] = pids.get(name)!;
      await eventually(() => !alive(setup) && !alive(sleeper), { what: `${name} setup processes gone` });
    }
  }, 240_000);

  it('stops a setup that a crashed engine left running before the next engine runs it again', async () => {
    dataDir = await newDataDir();
    child = spawn(
      process.execPath,
      ['--import', 'tsx', join(import.meta.dirname, 'fixtures/host/engine-main.ts'), dataDir],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    await eventually(() => once(child!.stdout!, 'data').then(([chunk]) => String(chunk).includes('ready')), {
      timeoutMs: 30_000,
    });
    const hanging = await packApp(dataDir, 'slow', {
      'server.js': serverScript('slow'),
      'hang.js': HANGING_SETUP,
    });
    const pidFile = join(dataDir, 'slow.pids');
    const app = appObject('slow', hanging, {
      setup: [process.execPath, 'hang.js'],
      env: [{ name: 'PIDFILE', value: pidFile }],
    });
    const store = await openSqliteStore(dataDir);
    await store.apply(app).finally(() => store.close());
    const [orphan, orphanSleep] = await setupPids(pidFile);
    child.kill('SIGKILL');
    await once(child, 'exit');
    child = undefined;
    expect(alive(orphan)).toBe(true);

    // The next engine stops the orphaned setup (and what it started) before starting the setup again.
    engine = await startTestEngine(dataDir);
    const [again, againSleep] = await setupPids(pidFile, orphan);
    await eventually(() => !alive(orphan) && !alive(orphanSleep), { what: 'orphaned setup processes gone' });
    expect(alive(again)).toBe(true);

    // An engine that stops leaves no setup running either.
    await engine.stop();
    engine = undefined;
    await eventually(() => !alive(again) && !alive(againSleep), { what: 'setup stopped with the engine' });
  }, 120_000);
});
