/**
 * Replica log flood: an App whose replica writes ~RATE MB/s to stdout for SECONDS s, against the engine's
 * default log cap (10 MiB per file, 3 files). The engine runs in its own process (the host test fixture
 * `engine-main.ts`, default settings), so that its event loop is measured from outside. Measures:
 *   - bytes on disk under `logs/<ns>/<app>/` (every file), sampled every 20 ms: the largest sample;
 *   - latency of the engine's `/healthz` and of a request through the App's expose port (http mode), one
 *     request every 50 ms each: for BASELINE s before the flood, then during the flood.
 * Prints a markdown report on stdout, progress on stderr. Loopback only; stops everything it started.
 * Usage: node --import tsx bench/host/log-flood.ts [--rate 20] [--seconds 20] [--baseline 5]
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdir, stat } from 'node:fs/promises';
import { request } from 'node:http';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { App } from '../../src/api/app.ts';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import {
  appObject,
  cleanupDataDir,
  freePort,
  newDataDir,
  packApp,
  readyApp,
} from '../../test/fixtures/host/app-harness.ts';
import { eventually } from '../../test/harness/eventually.ts';

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
};
const RATE_MB = Number(arg('--rate', '20'));
const SECONDS = Number(arg('--seconds', '20'));
const BASELINE_S = Number(arg('--baseline', '5'));
const CAP = 10 * 1024 * 1024 * 3;
const say = (line: string) => process.stderr.write(`[log-flood] ${line}\n`);

/** Answers `/`; `/flood` starts writing RATE MB/s of 100-byte lines for SECONDS s; `/result`: `<bytes> <ms>` once done, else 404. */
const appScript = `const http = require('node:http');
let result;
const block = Buffer.from(('x'.repeat(99) + '\\n').repeat(655));
function flood(rate, seconds) {
  const start = Date.now();
  let bytes = 0;
  const step = () => {
    const elapsed = (Date.now() - start) / 1000;
    if (elapsed >= seconds) { result = bytes + ' ' + (Date.now() - start); return; }
    if (bytes >= rate * elapsed) { setTimeout(step, 5); return; }
    bytes += block.length;
    if (process.stdout.write(block)) setImmediate(step); else process.stdout.once('drain', step);
  };
  step();
}
http.createServer((req, res) => {
  if (req.url === '/flood') flood(${RATE_MB} * 1e6, ${SECONDS});
  if (req.url === '/result' && !result) res.writeHead(404);
  res.end(req.url === '/result' ? String(result) : 'ok');
}).listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
`;

function timedGet(url: string): Promise<number> {
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, timeout: 10_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(Number(process.hrtime.bigint() - started) / 1e6));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

/** Requests `url` every 50 ms until `stop()`; returns the latencies (ms) and failures. */
function probe(url: string): { stop: () => Promise<{ latencies: number[]; failures: number }> } {
  const latencies: number[] = [];
  let failures = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      await timedGet(url).then(
        (ms) => latencies.push(ms),
        () => failures++,
      );
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return { latencies, failures };
    },
  };
}

function resultOf(url: string): Promise<string | false> {
  return new Promise((resolve) => {
    const req = request(url, { agent: false }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve(res.statusCode === 200 && body));
    });
    req.on('error', () => resolve(false));
    req.end();
  });
}

async function dirBytes(dir: string): Promise<number> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const sizes = await Promise.all(
    names.map((n) =>
      stat(join(dir, n)).then(
        (s) => s.size,
        () => 0,
      ),
    ),
  );
  return sizes.reduce((a, b) => a + b, 0);
}

const pct = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
};
const row = (name: string, r: { latencies: number[]; failures: number }) =>
  `| ${name} | ${r.latencies.length} | ${r.failures} | ${pct(r.latencies, 50).toFixed(1)} | ${pct(r.latencies, 99).toFixed(1)} | ${Math.max(...r.latencies).toFixed(1)} |`;
const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

const dataDir = await newDataDir();
const engine = spawn(
  process.execPath,
  ['--import', 'tsx', join(import.meta.dirname, '../../test/fixtures/host/engine-main.ts'), dataDir],
  {
    stdio: ['ignore', 'pipe', 'inherit'],
  },
);
try {
  const [readyLine] = (await once(createInterface({ input: engine.stdout }), 'line')) as [string];
  const healthz = `${readyLine.split(' ')[1]}/healthz`;
  say(`engine ready (${healthz}), data dir ${dataDir}`);
  const expose = await freePort();
  const source = await packApp(dataDir, 'flood', { 'server.js': appScript });
  const store = await openSqliteStore(dataDir);
  let app: App;
  try {
    await store.apply(appObject('flood', source, { replicas: 1, expose: { port: expose } }));
    app = await eventually(() => readyApp(store, 'flood', source.revision, 1), {
      timeoutMs: 60_000,
      what: 'App ready',
    });
  } finally {
    await store.close();
  }
  const replicaPort = app.status!.replicaStatuses![0]!.ports.http!;
  const logDir = join(dataDir, 'logs', 'default', 'flood');
  const proxied = `http://127.0.0.1:${expose}/`;

  say(`baseline ${BASELINE_S} s`);
  let probes = [probe(healthz), probe(proxied)];
  await new Promise((r) => setTimeout(r, BASELINE_S * 1000));
  const [baseHealth, baseProxy] = await Promise.all(probes.map((p) => p.stop()));

  say(`flood: ${RATE_MB} MB/s for ${SECONDS} s`);
  const load = loadavg()
    .map((l) => l.toFixed(1))
    .join(', ');
  probes = [probe(healthz), probe(proxied)];
  let largest = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      largest = Math.max(largest, await dirBytes(logDir));
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  await timedGet(`http://127.0.0.1:${replicaPort}/flood`);
  const done = await eventually(() => resultOf(`http://127.0.0.1:${replicaPort}/result`), {
    timeoutMs: (SECONDS + 60) * 1000,
    intervalMs: 250,
    what: 'the flood to end',
  });
  const [floodHealth, floodProxy] = await Promise.all(probes.map((p) => p.stop()));
  sampling = false;
  await sampler;
  const [bytes, ms] = done.split(' ');
  const final = await dirBytes(logDir);

  process.stdout.write(`## Log flood: ${RATE_MB} MB/s for ${SECONDS} s against 10 MiB × 3 files

Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, load average at the flood start ${load}.

| Figure | Value |
|---|---|
| written by the app | ${mib(Number(bytes))} in ${(Number(ms) / 1000).toFixed(1)} s (${(Number(bytes) / 1e6 / (Number(ms) / 1000)).toFixed(1)} MB/s) |
| cap (all files of the replica) | ${mib(CAP)} |
| largest on-disk total while writing (sampled every 20 ms) | ${mib(largest)} |
| on-disk total at the end | ${mib(final)} |

| Requests every 50 ms | n | failed | p50 ms | p99 ms | max ms |
|---|---|---|---|---|---|
${row('engine /healthz, baseline', baseHealth!)}
${row('engine /healthz, during flood', floodHealth!)}
${row('expose port, baseline', baseProxy!)}
${row('expose port, during flood', floodProxy!)}
`);
} finally {
  engine.kill('SIGTERM');
  await once(engine, 'exit');
  await cleanupDataDir(dataDir);
}
