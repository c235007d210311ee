import { afterEach, describe, expect, it } from 'vitest';
import type { Engine } from '../src/engine.ts';
import { eventually } from './harness/eventually.ts';
import {
  alive,
  appObject,
  cleanupDataDir,
  freePort,
  getApp,
  httpGet,
  newDataDir,
  packApp,
  pidsOf,
  readyApp,
  serverScript,
  startTestEngine,
} from './fixtures/host/app-harness.ts';

let engine: Engine | undefined;
let dataDir: string;

afterEach(async () => {
  await engine?.stop();
  engine = undefined;
  await cleanupDataDir(dataDir);
});

/** Sends requests one after another through `port` until `stop()` is called (at most `limit`), counting outcomes. */
function hammer(port: number, limit = 5_000) {
  const seen = new Map<string, number>();
  const failures: string[] = [];
  let stopped = false;
  const done = (async () => {
    for (let i = 0; i < limit && !stopped; i++) {
      try {
        const version = (await httpGet(port)).split(' ')[0]!;
        seen.set(version, (seen.get(version) ?? 0) + 1);
      } catch (error) {
        failures.push((error as Error).message);
      }
    }
  })();
  return {
    seen,
    failures,
    stop: async () => {
      stopped = true;
      await done;
    },
  };
}

describe('host runtime: rolling updates', () => {
  it('rolls a new revision out under continuous load without a single failed request', async () => {
    dataDir = await newDataDir();
    engine = await startTestEngine(dataDir);
    const expose = await freePort();
    const v1 = await packApp(dataDir, 'web', { 'server.js': serverScript('v1') });
    await engine.store.apply(appObject('web', v1, { replicas: 2, expose: { port: expose } }));
    const before = await eventually(() => readyApp(engine!.store, 'web', v1.revision, 2), { what: 'v1 ready' });

    const load = hammer(expose);
    await eventually(() => (load.seen.get('v1') ?? 0) > 20, { what: 'load running on v1' });
    const v2 = await packApp(dataDir, 'web', { 'server.js': serverScript('v2') });
    await engine.store.apply(appObject('web', v2, { replicas: 2, expose: { port: expose } }));
    const after = await eventually(() => readyApp(engine!.store, 'web', v2.revision, 2), { what: 'v2 rolled out' });
    await eventually(() => pidsOf(before).every((pid) => !alive(pid)), { what: 'v1 replicas stopped' });
    const v2Before = load.seen.get('v2') ?? 0;
    await eventually(() => (load.seen.get('v2') ?? 0) > v2Before + 20, { what: 'load served by v2' });
    await load.stop();

    expect(load.failures).toEqual([]);
    expect(load.seen.get('v1')).toBeGreaterThan(0);
    expect(load.seen.get('v2')).toBeGreaterThan(0);
    expect(pidsOf(after).some((pid) => pidsOf(before).includes(pid))).toBe(false);
    const events = await engine.store.listEvents({ kind: 'App', name: 'web' });
    expect(events.map((e) => e.reason)).toEqual(expect.arrayContaining(['ScalingReplicaSet', 'Killing', 'Started']));
  });

  it('stalls a revision that never gets ready, with the previous one still serving', async () => {
    dataDir = await newDataDir();
    engine = await startTestEngine(dataDir);
    const expose = await freePort();
    const good = await packApp(dataDir, 'stuck', { 'server.js': serverScript('good') });
    const spec = { replicas: 2, expose: { port: expose }, progressDeadlineSeconds: 3 };
    await engine.store.apply(appObject('stuck', good, spec));
    const serving = await eventually(() => readyApp(engine!.store, 'stuck', good.revision, 2));

    const bad = await packApp(dataDir, 'stuck', { 'server.js': "console.error('missing config'); process.exit(1);" });
    await engine.store.apply(appObject('stuck', bad, spec));
    const stalled = await eventually(
      async () => {
        const app = await getApp(engine!.store, 'stuck');
        const ready = app.status?.conditions?.find((c) => c.type === 'Ready');
        return ready?.status === 'False' && ready.reason === 'ProgressDeadlineExceeded' && app;
      },
      { what: 'Ready=False ProgressDeadlineExceeded' },
    );
    const conditions = Object.fromEntries((stalled.status?.conditions ?? []).map((c) => [c.type, `${c.status}/${c.reason}`]));
    expect(conditions).toMatchObject({ Progressing: 'False/ProgressDeadlineExceeded', Available: 'True/MinimumReplicasAvailable', Stalled: 'True/ProgressDeadlineExceeded' });
    expect(stalled.status).toMatchObject({ currentRevision: good.revision, updateRevision: bad.revision, readyReplicas: 2 });
    // The two good replicas still run and answer; the bad one never joined.
    expect(pidsOf(serving).every(alive)).toBe(true);
    for (let i = 0; i < 10; i++) expect(await httpGet(expose)).toMatch(/^good /);
  });

  it('fails the rollout when setup fails, and keeps the old release running', async () => {
    dataDir = await newDataDir();
    engine = await startTestEngine(dataDir);
    const expose = await freePort();
    const files = { 'server.js': serverScript('v1'), 'setup.js': 'process.exit(0)' };
    const v1 = await packApp(dataDir, 'built', files);
    const spec = { expose: { port: expose }, setup: [process.execPath, 'setup.js'] };
    await engine.store.apply(appObject('built', v1, spec));
    const first = await eventually(() => readyApp(engine!.store, 'built', v1.revision, 1));

    const v2 = await packApp(dataDir, 'built', { ...files, 'setup.js': "console.error('npm ERR! registry unreachable'); process.exit(7);" });
    await engine.store.apply(appObject('built', v2, spec));
    const failed = await eventually(async () => {
      const app = await getApp(engine!.store, 'built');
      const ready = app.status?.conditions?.find((c) => c.type === 'Ready');
      return ready?.status === 'False' && ready.reason === 'SetupFailed' && ready;
    });
    expect(failed.message).toMatch(
      /^setup of revision 'main@sha1:[0-9a-f]+' \(log logs\/default\/built\/setup-[0-9a-f-]+\.log\) exited with code 7; its output ends with: npm ERR! registry unreachable$/,
    );
    expect(await httpGet(expose)).toMatch(/^v1 /);
    expect(pidsOf(first).every(alive)).toBe(true);
  });
});
