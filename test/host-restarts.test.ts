import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Engine } from '../src/engine.ts';
import { eventually } from './harness/eventually.ts';
import { appObject, cleanupDataDir, getApp, newDataDir, packApp, readyApp, serverScript, startTestEngine } from './fixtures/host/app-harness.ts';

let engine: Engine | undefined;
let dataDir: string;

afterEach(async () => {
  await engine?.stop();
  engine = undefined;
  await cleanupDataDir(dataDir);
});

describe('host runtime: restarts', () => {
  it('restarts a crashing replica with exponential backoff and shows CrashLoopBackOff', async () => {
    dataDir = await newDataDir();
    engine = await startTestEngine(dataDir);
    const source = await packApp(dataDir, 'crashy', { 'crash.js': "console.log('starting'); setTimeout(() => process.exit(3), 100);" });
    await engine.store.apply(appObject('crashy', source, { command: [process.execPath, 'crash.js'], ports: [], readinessProbe: undefined }));

    const looping = await eventually(
      async () => {
        const app = await getApp(engine!.store, 'crashy');
        const replica = app.status?.replicaStatuses?.[0];
        return replica?.state === 'CrashLoopBackOff' && replica.restarts >= 3 && app;
      },
      { what: 'CrashLoopBackOff after three restarts' },
    );
    expect(looping.status?.replicaStatuses?.[0]?.lastExit).toMatch(/^exited with code 3 at /);
    const events = await engine.store.listEvents({ kind: 'App', name: 'crashy' });
    const delays = events
      .filter((e) => e.reason === 'BackOff')
      .reverse()
      .map((e) => Number(/restarting in (\d+) ms/.exec(e.message)?.[1]));
    expect(delays.slice(0, 3)).toEqual([200, 400, 800]);
  });

  it('restarts a replica whose liveness probe fails, and it becomes ready again once healthy', async () => {
    dataDir = await newDataDir();
    engine = await startTestEngine(dataDir);
    const sick = join(dataDir, 'sick');
    const source = await packApp(dataDir, 'lively', { 'server.js': serverScript('v1') });
    await engine.store.apply(
      appObject('lively', source, {
        env: [{ name: 'UNHEALTHY_FILE', value: sick }],
        livenessProbe: { httpGet: { path: '/livez', port: 'http' }, periodSeconds: 1, failureThreshold: 2 },
      }),
    );
    const healthy = await eventually(() => readyApp(engine!.store, 'lively', source.revision, 1));
    const pid = healthy.status!.replicaStatuses![0]!.pid;

    await writeFile(sick, 'x');
    await eventually(async () => {
      const events = await engine!.store.listEvents({ kind: 'App', name: 'lively' });
      return events.some((e) => e.reason === 'Unhealthy' && /liveness probe of replica 0 failed/.test(e.message));
    }, { what: 'Unhealthy event' });
    await rm(sick);
    const restarted = await eventually(async () => {
      const app = await readyApp(engine!.store, 'lively', source.revision, 1);
      const replica = app && app.status?.replicaStatuses?.[0];
      return replica && replica.restarts >= 1 && replica.pid !== pid && replica;
    }, { what: 'ready again with a new process' });
    expect(restarted.lastExit).toMatch(/restarted after failing its liveness probe/);
  });

  it('enforces the memory limit: a replica allocating beyond it fails and says why in its log', async () => {
    dataDir = await newDataDir();
    engine = await startTestEngine(dataDir);
    const hog = "const b = Buffer.alloc(300 * 1024 * 1024, 1); console.log('allocated ' + b.length); setInterval(() => {}, 1000);";
    const source = await packApp(dataDir, 'hog', { 'hog.js': hog });
    const spec = { command: [process.execPath, 'hog.js'], ports: [], readinessProbe: undefined, resources: { limits: { memory: '128Mi' } } };
    await engine.store.apply(appObject('hog', source, spec));
    const app = await eventually(async () => {
      const current = await getApp(engine!.store, 'hog');
      return (current.status?.replicaStatuses?.[0]?.restarts ?? 0) >= 1 && current;
    }, { what: 'the hog restarted' });
    expect(app.status?.memoryLimit).toBe('enforced as RLIMIT_DATA 128Mi (prlimit)');
    // The log writer is a process of its own: the last lines land a moment after the exit.
    const log = await eventually(async () => {
      const text = await readFile(join(dataDir, 'logs', 'default', 'hog', 'replica-0.log'), 'utf8').catch(() => '');
      return /Array buffer allocation failed/.test(text) && text;
    }, { what: 'the failure in the log' });
    expect(log).not.toMatch(/allocated/);
  });
});
