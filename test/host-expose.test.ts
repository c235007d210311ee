import { createHash, randomBytes } from 'node:crypto';
import { Agent, request, type IncomingHttpHeaders } from 'node:http';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { appSpecSchema } from '../src/api/app.ts';
import type { Engine } from '../src/engine.ts';
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

let engine: Engine | undefined;
let dataDir: string;

afterEach(async () => {
  await engine?.stop();
  engine = undefined;
  await cleanupDataDir(dataDir);
});

/**
 * The app behind the expose port: `<version> <pid>` on `/`, the request fields it received as JSON on
 * `/headers`, and on `/echo` the request body streamed back as it arrives; an upgrade to `echo` echoes
 * bytes. Closes at once on SIGTERM.
 */
function echoServer(version: string): string {
  return `const http = require('node:http');
const server = http.createServer((req, res) => {
  if (req.url === '/healthz') { res.end('ok'); return; }
  if (req.url === '/headers') { res.setHeader('content-type', 'application/json'); res.end(JSON.stringify(req.headers)); return; }
  if (req.url === '/echo') { res.writeHead(200, { 'x-echo': 'yes' }); res.flushHeaders(); req.pipe(res); return; }
  res.end(${JSON.stringify(version)} + ' ' + process.pid);
});
server.on('upgrade', (req, socket) => {
  socket.write('HTTP/1.1 101 Switching Protocols\\r\\nUpgrade: echo\\r\\nConnection: Upgrade\\r\\n\\r\\n');
  socket.pipe(socket);
});
server.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => { server.close(() => process.exit(0)); server.closeIdleConnections(); });
`;
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One GET through `agent` (keep-alive) or on a fresh connection; resolves with any status, rejects on a failure. */
function get(port: number, path: string, agent: Agent | false = false, timeout = 20_000): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent, timeout }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

/** `workers` loops of keep-alive requests through `port` until `stop()` (at most `limit` each), counting outcomes. */
function keepAliveHammer(port: number, workers = 8, limit = 20_000) {
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  const seen = new Map<string, number>();
  const failures: string[] = [];
  let stopped = false;
  const loop = async () => {
    for (let i = 0; i < limit && !stopped; i++) {
      try {
        const answer = await get(port, '/', agent);
        if (answer.status !== 200) throw new Error(`status ${answer.status}: ${answer.body}`);
        const version = answer.body.split(' ')[0]!;
        seen.set(version, (seen.get(version) ?? 0) + 1);
      } catch (error) {
        failures.push((error as Error).message);
      }
    }
  };
  const done = Promise.all(Array.from({ length: workers }, loop));
  return {
    seen,
    failures,
    stop: async () => {
      stopped = true;
      await done;
      agent.destroy();
    },
  };
}

async function deploy(name: string, version: string, spec: Parameters<typeof appObject>[2]) {
  const source = await packApp(dataDir, name, { 'server.js': echoServer(version) });
  await engine!.store.apply(appObject(name, source, spec));
  return eventually(() => readyApp(engine!.store, name, source.revision, spec.replicas ?? 1), {
    what: `${name} ${version} ready`,
  });
}

describe('host runtime: the http expose proxy', () => {
  it(
    'rolls out under keep-alive load with no failed request, without waiting for the grace period',
    { timeout: 30_000 },
    async () => {
      dataDir = await newDataDir();
      engine = await startTestEngine(dataDir);
      const expose = await freePort();
      // A 60 s grace: a drain that waited for keep-alive connections to close would outlast this test's 30 s.
      const spec = { replicas: 2, expose: { port: expose }, terminationGracePeriodSeconds: 60 };
      const before = await deploy('web', 'v1', spec);

      const load = keepAliveHammer(expose);
      await eventually(() => (load.seen.get('v1') ?? 0) > 50, { what: 'keep-alive load served by v1' });
      const after = await deploy('web', 'v2', spec);
      await eventually(() => pidsOf(before).every((pid) => !alive(pid)), { what: 'v1 replicas stopped' });
      const v2Before = load.seen.get('v2') ?? 0;
      await eventually(() => (load.seen.get('v2') ?? 0) > v2Before + 50, {
        what: 'keep-alive load served by v2',
      });
      await load.stop();

      expect(load.failures).toEqual([]);
      expect(load.seen.get('v1')).toBeGreaterThan(0);
      expect(pidsOf(after).some((pid) => pidsOf(before).includes(pid))).toBe(false);
      expect((await getApp(engine.store, 'web')).status?.replicaStatuses?.map((r) => r.state)).toEqual([
        'Running',
        'Running',
      ]);
    },
  );

  it('keeps keep-alive clients served when a replica is killed, by retrying on the other one', async () => {
    dataDir = await newDataDir();
    engine = await startTestEngine(dataDir);
    const expose = await freePort();
    const running = await deploy('crashy', 'v1', { replicas: 2, expose: { port: expose } });

    const load = keepAliveHammer(expose);
    await eventually(() => (load.seen.get('v1') ?? 0) > 50, { what: 'keep-alive load served' });
    process.kill(pidsOf(running)[0]!, 'SIGKILL');
    const served = load.seen.get('v1') ?? 0;
    await eventually(() => (load.seen.get('v1') ?? 0) > served + 200, { what: 'load served after the kill' });
    await load.stop();

    expect(load.failures).toEqual([]);
  });

  it('streams a request body to the app and its answer back while the upload is still going, intact', async () => {
    dataDir = await newDataDir();
    engine = await startTestEngine(dataDir);
    const expose = await freePort();
    await deploy('echo', 'v1', { replicas: 2, expose: { port: expose } });

    const chunks = Array.from({ length: 64 }, () => randomBytes(64 * 1024));
    const received: Buffer[] = [];
    let status = 0;
    const upload = request({ host: '127.0.0.1', port: expose, path: '/echo', method: 'POST', agent: false });
    const answered = new Promise<void>((resolve, reject) => {
      upload.on('response', (res) => {
        status = res.statusCode ?? 0;
        res.on('data', (chunk: Buffer) => received.push(chunk));
        res.on('end', resolve);
        res.on('error', reject);
      });
      upload.on('error', reject);
    });
    upload.write(chunks[0]);
    // The echo of the first chunk comes back before the rest is sent: neither direction is buffered whole.
    await eventually(() => received.length > 0, { what: 'first chunk echoed back' });
    for (const chunk of chunks.slice(1))
      if (!upload.write(chunk)) await new Promise((r) => upload.once('drain', r));
    upload.end();
    await answered;

    const digest = (parts: Buffer[]) => createHash('sha256').update(Buffer.concat(parts)).digest('hex');
    expect(status).toBe(200);
    expect(Buffer.concat(received).length).toBe(64 * 64 * 1024);
    expect(digest(received)).toBe(digest(chunks));
  });

  it('forwards end-to-end fields with X-Forwarded-*, and not the hop-by-hop ones', async () => {
    dataDir = await newDataDir();
    engine = await startTestEngine(dataDir);
    const expose = await freePort();
    await deploy('hdr', 'v1', { expose: { port: expose } });

    const answer = await new Promise<Answer>((resolve, reject) => {
      const headers = {
        connection: 'keep-alive, x-hop',
        'x-hop': 'secret-to-this-hop',
        'proxy-authorization': 'Basic eA==',
        te: 'trailers',
        'x-app': 'kept',
      };
      const req = request(
        { host: '127.0.0.1', port: expose, path: '/headers', headers, agent: false },
        (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        },
      );
      req.on('error', reject);
      req.end();
    });
    const seen = JSON.parse(answer.body) as Record<string, string>;
    expect(seen).toMatchObject({
      'x-app': 'kept',
      'x-forwarded-for': '127.0.0.1',
      'x-forwarded-proto': 'http',
      'x-forwarded-host': `127.0.0.1:${expose}`,
    });
    expect(Object.keys(seen)).not.toEqual(expect.arrayContaining(['x-hop']));
    expect(Object.keys(seen)).not.toEqual(expect.arrayContaining(['proxy-authorization']));
    expect(Object.keys(seen)).not.toEqual(expect.arrayContaining(['te']));
  });

  it('tunnels an upgrade request (as WebSocket does) to one replica', async () => {
    dataDir = await newDataDir();
    engine = await startTestEngine(dataDir);
    const expose = await freePort();
    await deploy('ws', 'v1', { replicas: 2, expose: { port: expose } });

    const echoed = await new Promise<string>((resolve, reject) => {
      const headers = { connection: 'Upgrade', upgrade: 'echo' };
      const req = request({ host: '127.0.0.1', port: expose, path: '/socket', headers, agent: false });
      req.on('upgrade', (res, socket) => {
        if (res.statusCode !== 101) reject(new Error(`status ${res.statusCode}`));
        socket.once('data', (chunk: Buffer) => {
          resolve(chunk.toString());
          socket.destroy();
        });
        socket.write('ping through the tunnel');
      });
      req.on('error', reject);
      req.end();
    });
    expect(echoed).toBe('ping through the tunnel');
  });

  it("answers through the expose port while the engine's event loop is blocked", async () => {
    dataDir = await newDataDir();
    engine = await startTestEngine(dataDir);
    const expose = await freePort();
    await deploy('busy', 'v1', { replicas: 1, expose: { port: expose } });

    // A client on a thread of its own; this thread (the engine's) blocks until it got its answer or gave up.
    const answer = new Int32Array(new SharedArrayBuffer(4));
    const client = new Worker(
      `const { workerData: { port, answer } } = require('node:worker_threads');
      const done = (status) => { Atomics.store(answer, 0, status); Atomics.notify(answer, 0); };
      require('node:http').get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
        res.resume();
        res.on('end', () => done(res.statusCode));
      }).on('error', () => done(-1));`,
      { eval: true, workerData: { port: expose, answer } },
    );
    try {
      Atomics.wait(answer, 0, 0, 20_000);
    } finally {
      await client.terminate();
    }
    expect(Atomics.load(answer, 0)).toBe(200);
  });

  it('answers 503 after waiting when no replica is ready', async () => {
    dataDir = await newDataDir();
    engine = await startTestEngine(dataDir);
    const expose = await freePort();
    await deploy('none', 'v1', { replicas: 0, expose: { port: expose } });

    const answer = await get(expose, '/');
    expect(answer.status).toBe(503);
    expect(answer.body).toContain("no ready replica of App 'default/none'");
  });

  it('keeps tcp mode: bytes piped to a replica, no forwarding fields added', async () => {
    dataDir = await newDataDir();
    engine = await startTestEngine(dataDir);
    const expose = await freePort();
    await deploy('raw', 'v1', { replicas: 2, expose: { port: expose, protocol: 'tcp' } });

    expect((await get(expose, '/')).body).toMatch(/^v1 \d+$/);
    const seen = JSON.parse((await get(expose, '/headers')).body) as Record<string, string>;
    expect(seen['x-forwarded-for']).toBeUndefined();
  });
});

describe('App spec: expose.protocol', () => {
  it.each([
    ['defaults to nothing (http)', { port: 8080 }, undefined],
    ['takes http', { port: 8080, protocol: 'http' }, undefined],
    ['takes tcp', { port: 8080, protocol: 'tcp' }, undefined],
    [
      'rejects udp, naming the field',
      { port: 8080, protocol: 'udp' },
      "expose.protocol: must be 'http' or 'tcp'",
    ],
  ])('%s', (_name, expose, problem) => {
    const result = appSpecSchema.safeParse({
      command: ['node', 'server.js'],
      ports: [{ name: 'http' }],
      expose,
    });
    const problems = result.error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    expect(problems?.[0]).toBe(problem);
  });
});
