import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createServer, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Engine } from '../src/engine.ts';
import { eventually } from './harness/eventually.ts';
import { execFileTracked as run, spawnTracked as spawn } from './harness/tracked-process.ts';
import { measureStartMs, startsBudgetMs } from './harness/budget.ts';
import { KEDGE_CLI } from './harness/kedge-cli.ts';
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
  pidsOf,
  readyApp,
  serverScript,
  startTestEngine,
} from './fixtures/host/app-harness.ts';

/** One start of the CLI here and now (see test/harness/budget.ts): the first test runs three commands. */
const cliStartMs = await measureStartMs([...KEDGE_CLI, '--version']);

let engine: Engine | undefined;
let dataDir: string;

afterEach(async () => {
  await engine?.stop();
  engine = undefined;
  await cleanupDataDir(dataDir);
});

describe('host runtime: deploy, scale, configure, delete', () => {
  it('deploys an App: setup once, replicas on their own ports behind the expose port, status like a Deployment', async () => {
    dataDir = await newDataDir();
    engine = await startTestEngine(dataDir);
    const source = await packApp(dataDir, 'hello', {
      'apps/hello/server.js': serverScript('v1'),
      'apps/hello/setup.js': "require('node:fs').writeFileSync('generated.txt', 'built-by-setup');",
    });
    const expose = await freePort();
    const app = appObject('hello', source, {
      replicas: 2,
      workingDir: 'apps/hello',
      setup: [process.execPath, 'setup.js'],
      env: [{ name: 'GREETING', value: 'bonjour' }],
      expose: { port: expose },
      resources: { limits: { memory: '512Mi' } },
    });
    await engine.store.apply(app);

    const ready = await eventually(() => readyApp(engine!.store, 'hello', source.revision, 2), { what: 'App ready' });
    const status = ready.status!;
    expect(status).toMatchObject({ replicas: 2, readyReplicas: 2, updatedReplicas: 2, availableReplicas: 2, observedGeneration: 1 });
    expect(status.exposedAddress).toBe(`127.0.0.1:${expose}`);
    expect(status.memoryLimit).toMatch(/enforced as RLIMIT_DATA 512Mi/);
    const types = Object.fromEntries((status.conditions ?? []).map((c) => [c.type, `${c.status}/${c.reason}`]));
    expect(types).toMatchObject({ Ready: 'True/Succeeded', Available: 'True/MinimumReplicasAvailable', Progressing: 'True/NewReplicaSetAvailable' });

    // Both replicas answer through the expose port, each as its own process, and setup ran in the release.
    const pids = new Set<string>();
    await eventually(async () => {
      const [version, pid, extra] = (await httpGet(expose)).split(' ');
      expect([version, extra]).toEqual(['v1', 'built-by-setup']);
      pids.add(pid!);
      return pids.size === 2;
    }, { what: 'both replicas answering' });
    const ports = (status.replicaStatuses ?? []).map((r) => r.ports.http!);
    expect(new Set(ports).size).toBe(2);
    const env = JSON.parse(await httpGet(ports[0]!, '/env')) as Record<string, string>;
    expect(env).toMatchObject({ GREETING: 'bonjour', PORT: String(ports[0]), PORT_HTTP: String(ports[0]) });

    // Output lands in per-replica log files that `kedge logs app` prints.
    const { stdout } = await run(process.execPath, [...KEDGE_CLI, '--data-dir', dataDir, 'logs', 'app', 'hello']);
    expect(stdout).toMatch(/\[replica-0\] listening on \d+/);
    expect(stdout).toMatch(/\[replica-1\] listening on \d+/);
    // `-f` follows: a request served after it started shows up.
    const follower = spawn(process.execPath, [...KEDGE_CLI, '--data-dir', dataDir, 'logs', 'app', 'hello', '-f'], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      let followed = '';
      follower.stdout.on('data', (chunk: Buffer) => (followed += chunk.toString()));
      await eventually(() => followed.includes('listening on'), { what: 'existing output', timeoutMs: startsBudgetMs(1, cliStartMs) });
      await httpGet(expose, '/followed-request');
      await eventually(() => /\[replica-\d\] served \/followed-request/.test(followed), { what: 'followed output' });
    } finally {
      follower.kill();
    }
    const table = await run(process.execPath, [...KEDGE_CLI, '--data-dir', dataDir, 'get', 'apps']);
    expect(table.stdout).toMatch(/^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+REVISION\s+ROLLED-BACK\s+MESSAGE/);
    expect(table.stdout).toMatch(new RegExp(`hello\\s+2/2\\s+2\\s+2\\s+${source.revision.replace(/[@:]/g, '.')}\\s+false\\s+rolled out revision`));
    // The registry that lets a restarted engine adopt replicas holds no environment values.
    const registry = await readFile(join(dataDir, 'host', 'replicas.json'), 'utf8');
    expect(registry).toContain(`"pid": ${pidsOf(ready)[0]}`);
    expect(registry).not.toContain('bonjour');
    // Three CLI commands, and five waits of eventually()'s default 20 s.
  }, startsBudgetMs(3, cliStartMs, 5 * 20_000));

  it('scales up and down, stopping the surplus processes', async () => {
    dataDir = await newDataDir();
    engine = await startTestEngine(dataDir);
    const source = await packApp(dataDir, 'scaled', { 'server.js': serverScript('v1') });
    await engine.store.apply(appObject('scaled', source, { replicas: 1 }));
    const one = await eventually(() => readyApp(engine!.store, 'scaled', source.revision, 1));

    await engine.store.apply(appObject('scaled', source, { replicas: 3 }));
    const three = await eventually(() => readyApp(engine!.store, 'scaled', source.revision, 3), { what: 'three replicas' });
    expect(pidsOf(three)).toEqual(expect.arrayContaining(pidsOf(one)));

    await engine.store.apply(appObject('scaled', source, { replicas: 1 }));
    const back = await eventually(() => readyApp(engine!.store, 'scaled', source.revision, 1), { what: 'one replica' });
    const gone = pidsOf(three).filter((p) => !pidsOf(back).includes(p));
    expect(gone).toHaveLength(2);
    await eventually(() => gone.every((pid) => !alive(pid)), { what: 'surplus processes gone' });
  });

  it('takes env from a Secret and a ConfigMap, and rolls the App when they change', async () => {
    dataDir = await newDataDir();
    engine = await startTestEngine(dataDir);
    const { store } = engine;
    await store.apply({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'hello-secrets', namespace: 'default' }, stringData: { token: 's3cr3t' } });
    await store.apply({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'hello-config', namespace: 'default' }, data: { color: 'blue', MODE: 'fast' } });
    const source = await packApp(dataDir, 'configured', { 'server.js': serverScript('v1') });
    await store.apply(
      appObject('configured', source, {
        env: [
          { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'hello-secrets', key: 'token' } } },
          { name: 'COLOR', valueFrom: { configMapKeyRef: { name: 'hello-config', key: 'color' } } },
        ],
        envFrom: [{ configMapRef: { name: 'hello-config' }, prefix: 'CFG_' }],
      }),
    );
    const first = await eventually(() => readyApp(store, 'configured', source.revision, 1));
    const port = () => first.status!.replicaStatuses![0]!.ports.http!;
    expect(JSON.parse(await httpGet(port(), '/env'))).toMatchObject({ TOKEN: 's3cr3t', COLOR: 'blue', CFG_MODE: 'fast' });
    // The engine's own environment does not leak into apps.
    expect(JSON.parse(await httpGet(port(), '/env'))).not.toHaveProperty('SECRET_ENGINE_VAR');

    await store.apply({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'hello-secrets', namespace: 'default' }, stringData: { token: 'rotated' } });
    const rolled = await eventually(async () => {
      const app = await readyApp(store, 'configured', source.revision, 1);
      if (!app || pidsOf(app)[0] === pidsOf(first)[0]) return false;
      return app;
    }, { what: 'App rolled after the Secret changed' });
    const env = JSON.parse(await httpGet(rolled.status!.replicaStatuses![0]!.ports.http!, '/env')) as Record<string, string>;
    expect(env.TOKEN).toBe('rotated');
    await eventually(() => !alive(pidsOf(first)[0]!), { what: 'old replica gone' });
    expect(JSON.stringify(rolled.status)).not.toContain('rotated');
  });

  it('stops the processes and removes the releases of a deleted App', async () => {
    dataDir = await newDataDir();
    engine = await startTestEngine(dataDir);
    const source = await packApp(dataDir, 'doomed', { 'server.js': serverScript('v1') });
    const expose = await freePort();
    await engine.store.apply(appObject('doomed', source, { replicas: 2, expose: { port: expose } }));
    const app = await eventually(() => readyApp(engine!.store, 'doomed', source.revision, 2));
    expect(await httpGet(expose)).toMatch(/^v1 /);

    await engine.store.delete(appRef('doomed'));
    await eventually(() => pidsOf(app).every((pid) => !alive(pid)), { what: 'replicas stopped' });
    await eventually(() => !existsSync(join(dataDir, 'releases', 'default', 'doomed')), { what: 'releases removed' });
    await expect(httpGet(expose)).rejects.toThrow();
    await expect(getApp(engine.store, 'doomed')).rejects.toThrow(/not found/);
  });

  it('reports an expose port that is taken, naming the App and the port', async () => {
    dataDir = await newDataDir();
    engine = await startTestEngine(dataDir);
    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    try {
      const port = (squatter.address() as AddressInfo).port;
      const source = await packApp(dataDir, 'clash', { 'server.js': serverScript('v1') });
      await engine.store.apply(appObject('clash', source, { expose: { port } }));
      const ready = await eventually(async () => {
        const app = await getApp(engine!.store, 'clash');
        return app.status?.conditions?.find((c) => c.type === 'Ready' && c.reason === 'ExposeFailed');
      }, { what: 'Ready=False ExposeFailed' });
      expect(ready.message).toBe(`cannot expose App 'default/clash' on 127.0.0.1:${port}: the port is in use by another process or App`);
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
  });
});
