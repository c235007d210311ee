import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Engine } from '../src/engine.ts';
import { releaseRollback, rollback } from '../src/rollback/rollback.ts';
import { eventually } from './harness/eventually.ts';
import {
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

let engine: Engine | undefined;
let dataDir: string;

afterEach(async () => {
  await engine?.stop();
  engine = undefined;
  await cleanupDataDir(dataDir);
});

/** Requests one after another through `port` until stopped, counting answers per version and failures. */
function steadyLoad(port: number) {
  const seen = new Map<string, number>();
  const failures: string[] = [];
  let stopped = false;
  const done = (async () => {
    while (!stopped) {
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

describe('App rollback on the host runtime', () => {
  it('rolls back to the previous release dir as a zero-downtime rolling update, and releases', async () => {
    dataDir = await newDataDir();
    engine = await startTestEngine(dataDir);
    const expose = await freePort();
    const spec = { replicas: 2, expose: { port: expose } };
    const v1 = await packApp(dataDir, 'web', { 'server.js': serverScript('v1') });
    await engine.store.apply(appObject('web', v1, spec));
    await eventually(() => readyApp(engine!.store, 'web', v1.revision, 2), { what: 'v1 ready' });
    const v2 = await packApp(dataDir, 'web', { 'server.js': serverScript('v2') });
    await engine.store.apply(appObject('web', v2, spec));
    await eventually(() => readyApp(engine!.store, 'web', v2.revision, 2), { what: 'v2 ready' });

    // History has both rollouts; v1's release dir outlived the rollout to v2.
    const history = await engine.store.listHistory(appRef('web'));
    expect(history.map((e) => e.revision)).toEqual([v2.revision, v1.revision]);
    expect(history[1]).toMatchObject({ result: 'Succeeded', changes: { configured: ['App/default/web'] } });
    expect(existsSync(join(dataDir, 'releases', 'default', 'web', history[1]!.releaseKey!))).toBe(true);

    const load = steadyLoad(expose);
    await eventually(() => (load.seen.get('v2') ?? 0) > 20, { what: 'load served by v2' });
    const { hold } = await rollback(engine.store, appRef('web'), { steps: 1 });
    expect(hold.revision).toBe(v1.revision);
    const rolledBack = await eventually(() => readyApp(engine!.store, 'web', v1.revision, 2), {
      what: 'back at v1',
    });
    const v1Before = load.seen.get('v1') ?? 0;
    await eventually(() => (load.seen.get('v1') ?? 0) > v1Before + 20, { what: 'load served by v1 again' });
    expect(rolledBack.status?.conditions?.find((c) => c.type === 'RolledBack')).toMatchObject({
      status: 'True',
      // eslint-disable-next-line @typescript-eslint/no-unsafe-assignment -- vitest's asymmetric matcher
      message: expect.stringContaining(`held at ${v1.revision}, source is at ${v2.revision}`),
    });

    // Release: a rolling update back to the revision the App was given.
    expect(await releaseRollback(engine.store, appRef('web'))).toBe(true);
    await eventually(() => readyApp(engine!.store, 'web', v2.revision, 2), { what: 'v2 again' });
    const v2Before = load.seen.get('v2') ?? 0;
    await eventually(() => (load.seen.get('v2') ?? 0) > v2Before + 20, { what: 'load served by v2 again' });
    await load.stop();
    expect(load.failures).toEqual([]);
    expect((await getApp(engine.store, 'web')).status?.conditions?.some((c) => c.type === 'RolledBack')).toBe(
      false,
    );
    const events = (await engine.store.listEvents({ kind: 'App', name: 'web' })).map((e) => e.reason);
    expect(events).toEqual(expect.arrayContaining(['RolledBack', 'RollbackReleased']));
  }, 120_000);
});
