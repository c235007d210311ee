/**
 * Host-runtime rolling update under load: a 4-replica App (maxSurge 1, maxUnavailable 0, readiness after a
 * delay) behind its expose proxy, `wrk` hammering the expose port while a new revision rolls out.
 * Per client mode (keep-alive connections, then one connection per request) it measures, in this order:
 *   1. direct: wrk on one replica's own port (no proxy) for W seconds;
 *   2. steady: wrk on the expose port for W seconds, no rollout;
 *   3. rollout: wrk on the expose port from just before the new revision is applied until the App is rolled
 *      out (Ready, every replica on the new revision, old replicas gone), then stopped with SIGINT.
 * W is the duration of an unloaded warm-up rollout (rounded up to whole seconds), so steady and rollout
 * windows are about the same length. Prints a markdown report on stdout, progress on stderr.
 * Needs `wrk` on PATH (Debian package `wrk`). Loopback only; everything it starts is stopped at the end.
 * Usage: node --import tsx bench/host/run.ts [--replicas 4] [--ready-delay 500] [--connections 16]
 *        [--threads 1] [--grace 5] [--modes keepalive,close] [--app-shutdown immediate|graceful]
 *        [--protocol http|tcp]  (the expose proxy's mode, `expose.protocol`; default http)
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import type { App } from '../../src/api/app.ts';
import type { Engine } from '../../src/engine.ts';
import {
  appObject,
  cleanupDataDir,
  freePort,
  getApp,
  packApp,
  pidsOf,
  readyApp,
  alive,
  startTestEngine,
} from '../../test/fixtures/host/app-harness.ts';

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
};
const REPLICAS = Number(arg('--replicas', '4'));
const READY_DELAY_MS = Number(arg('--ready-delay', '500'));
const CONNECTIONS = Number(arg('--connections', '16'));
const THREADS = Number(arg('--threads', '1'));
const GRACE_S = Number(arg('--grace', '5'));
const MODES = arg('--modes', 'keepalive,close').split(',') as Mode[];
const APP_SHUTDOWN = arg('--app-shutdown', 'immediate') as 'immediate' | 'graceful';
const PROTOCOL = arg('--protocol', 'http') as 'http' | 'tcp';
const PROBE_PERIOD_S = 1; // the smallest periodSeconds the App schema accepts
const NAME = 'web';
type Mode = 'keepalive' | 'close';

const say = (line: string) => process.stderr.write(`[bench] ${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The app under test: `<version>` on `/`; `/healthz` answers 503 until READY_DELAY_MS after it listens.
 * On SIGTERM, `immediate` closes the server at once (as the test harness app does: Node's `server.close()`
 * also closes keep-alive connections it deems idle); `graceful` first answers with `Connection: close` for
 * 1 s so keep-alive clients reconnect (through the proxy, to a live replica), then closes.
 */
function appScript(version: string): string {
  return `const http = require('node:http');
const delay = Number(process.env.READY_DELAY_MS || 0);
let readyAt = Infinity;
let stopping = false;
const server = http.createServer((req, res) => {
  if (stopping) res.setHeader('connection', 'close');
  if (req.url === '/healthz') { res.writeHead(Date.now() >= readyAt ? 200 : 503); res.end(); return; }
  res.end(${JSON.stringify(version)});
});
server.listen(Number(process.env.PORT), '127.0.0.1', () => { readyAt = Date.now() + delay; });
const close = () => { server.close(() => process.exit(0)); server.closeIdleConnections(); };
process.on('SIGTERM', () => {
  stopping = true;
  if (${JSON.stringify(APP_SHUTDOWN)} === 'graceful') setTimeout(close, 1000); else close();
});
`;
}

/** Prints wrk's summary as one JSON line when wrk ends (at its duration or on SIGINT). */
const WRK_DONE = `done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"requests":%d,"durationUs":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50Us":%d,"p99Us":%d,"maxUs":%d}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
`;

interface WrkResult {
  requests: number;
  durationUs: number;
  connect: number;
  read: number;
  write: number;
  /** Responses with status > 399 (wrk's "Non-2xx or 3xx"). */
  status: number;
  timeout: number;
  p50Us: number;
  p99Us: number;
  maxUs: number;
}

const running = new Set<ChildProcess>();

/** Starts wrk on 127.0.0.1:`port`; `finish()` stops it early with SIGINT (wrk then reports what it did). */
function startWrk(
  port: number,
  mode: Mode,
  seconds: number,
  script: string,
): { finish: () => Promise<WrkResult> } {
  const args = [
    '-t',
    String(THREADS),
    '-c',
    String(CONNECTIONS),
    '-d',
    `${seconds}s`,
    '--timeout',
    '15s',
    '-s',
    script,
  ];
  if (mode === 'close') args.push('-H', 'Connection: close');
  const child = spawn('wrk', [...args, `http://127.0.0.1:${port}/`], { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const ended = new Promise<WrkResult>((resolve, reject) => {
    child.on('close', () => {
      running.delete(child);
      const line = out.split('\n').find((l) => l.startsWith('{"requests"'));
      if (line) resolve(JSON.parse(line) as WrkResult);
      else reject(new Error(`wrk printed no summary:\n${out}`));
    });
  });
  return {
    finish: () => {
      if (child.exitCode === null) child.kill('SIGINT');
      return ended;
    },
  };
}

async function timedWrk(port: number, mode: Mode, seconds: number, script: string): Promise<WrkResult> {
  const run = startWrk(port, mode, seconds, script);
  await sleep(seconds * 1000 + 500);
  return run.finish();
}

/** Applies `version` and waits (polling the store every 25 ms) until it is rolled out; returns ms taken. */
async function rollOut(
  engine: Engine,
  dataDir: string,
  version: string,
  expose: number,
): Promise<{ ms: number; app: App }> {
  const source = await packApp(dataDir, NAME, { 'server.js': appScript(version) });
  const before = await getApp(engine.store, NAME).catch(() => undefined);
  const t0 = performance.now();
  await engine.store.apply(
    appObject(NAME, source, {
      replicas: REPLICAS,
      expose: { port: expose, protocol: PROTOCOL },
      env: [{ name: 'READY_DELAY_MS', value: String(READY_DELAY_MS) }],
      readinessProbe: {
        httpGet: { path: '/healthz', port: 'http' },
        periodSeconds: PROBE_PERIOD_S,
        failureThreshold: 1,
      },
      terminationGracePeriodSeconds: GRACE_S,
      progressDeadlineSeconds: 300,
    }),
  );
  const oldPids = before ? pidsOf(before) : [];
  for (;;) {
    const app = await readyApp(engine.store, NAME, source.revision, REPLICAS);
    if (app && oldPids.every((pid) => !alive(pid))) return { ms: performance.now() - t0, app };
    if (performance.now() - t0 > 300_000)
      throw new Error(`App '${NAME}' did not roll out ${version} within 300 s`);
    await sleep(25);
  }
}

const ms = (us: number) => (us / 1000).toFixed(2);
const rps = (r: WrkResult) => r.requests / (r.durationUs / 1e6);
const failed = (r: WrkResult) => r.connect + r.read + r.write + r.timeout + r.status;
const ratio = (a: number, b: number) => (b > 0 ? (a / b).toFixed(2) : 'n/a');

async function main(): Promise<void> {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
  } catch (error) {
    // wrk --version exits 1 after printing its version; only a missing binary is a problem.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      throw new Error('wrk not found on PATH: apt-get install wrk', { cause: error });
  }
  const loadAtStart = loadavg()[0]!;
  const root = mkdtempSync(join(tmpdir(), 'kedge-bench-host-'));
  const script = join(root, 'done.lua');
  writeFileSync(script, WRK_DONE);
  const dataDir = join(root, 'data');
  let engine: Engine | undefined;
  const onSignal = () => {
    for (const child of running) child.kill('SIGKILL');
    void (engine?.stop() ?? Promise.resolve()).finally(() =>
      cleanupDataDir(dataDir).finally(() => process.exit(130)),
    );
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    engine = await startTestEngine(dataDir);
    const expose = await freePort();
    let version = 1;
    say(
      `deploying v1: ${REPLICAS} replicas, readiness after ${READY_DELAY_MS} ms, probe every ${PROBE_PERIOD_S} s`,
    );
    const first = await rollOut(engine, dataDir, `v${version}`, expose);
    say(`v1 ready in ${first.ms.toFixed(0)} ms (initial deploy)`);
    const warm = await rollOut(engine, dataDir, `v${++version}`, expose);
    const window = Math.max(3, Math.ceil(warm.ms / 1000));
    say(`unloaded rollout v${version} took ${warm.ms.toFixed(0)} ms; load windows ${window} s`);

    const rows: string[] = [];
    for (const mode of MODES) {
      const app = await getApp(engine.store, NAME);
      const direct = app.status?.replicaStatuses?.[0]?.ports.http;
      if (direct === undefined) throw new Error('no replica port in status');
      say(`[${mode}] direct on replica port ${direct} for ${window} s`);
      const d = await timedWrk(direct, mode, window, script);
      say(`[${mode}] steady through expose port ${expose} for ${window} s`);
      const s = await timedWrk(expose, mode, window, script);
      say(`[${mode}] rollout v${version + 1} under load`);
      const load = startWrk(expose, mode, 600, script);
      await sleep(200); // let the connections open before the change
      const roll = await rollOut(engine, dataDir, `v${++version}`, expose);
      const r = await load.finish();
      say(`[${mode}] rolled out in ${roll.ms.toFixed(0)} ms; ${r.requests} requests, ${failed(r)} failed`);
      rows.push(
        `| ${mode} | direct (1 replica) | ${d.requests} | ${rps(d).toFixed(0)} | ${failed(d)} | ${ms(d.p50Us)} | ${ms(d.p99Us)} | ${ms(d.maxUs)} | |`,
        `| ${mode} | steady (proxy) | ${s.requests} | ${rps(s).toFixed(0)} | ${failed(s)} | ${ms(s.p50Us)} | ${ms(s.p99Us)} | ${ms(s.maxUs)} | |`,
        `| ${mode} | rollout (proxy) | ${r.requests} | ${rps(r).toFixed(0)} | ${failed(r)} (connect ${r.connect}, read ${r.read}, write ${r.write}, timeout ${r.timeout}, status≥400 ${r.status}) | ${ms(r.p50Us)} | ${ms(r.p99Us)} | ${ms(r.maxUs)} | ${(roll.ms / 1000).toFixed(2)} s |`,
        `| ${mode} | ratios | | proxy/direct ${ratio(rps(s), rps(d))} | | proxy/direct ${ratio(s.p50Us, d.p50Us)}, rollout/steady ${ratio(r.p50Us, s.p50Us)} | proxy/direct ${ratio(s.p99Us, d.p99Us)}, rollout/steady ${ratio(r.p99Us, s.p99Us)} | | vs ${REPLICAS}×delay ${ratio(roll.ms, REPLICAS * READY_DELAY_MS)}, vs ${REPLICAS}×probe period ${ratio(roll.ms, REPLICAS * PROBE_PERIOD_S * 1000)} |`,
      );
    }

    const floor = REPLICAS * READY_DELAY_MS;
    console.log(`## Run ${new Date().toISOString()}`);
    console.log('');
    console.log(
      `${cpus().length} CPUs, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}, load average ${loadAtStart.toFixed(1)} at start; ${REPLICAS} replicas, maxSurge 1, maxUnavailable 0, ` +
        `readiness after ${READY_DELAY_MS} ms, probe period ${PROBE_PERIOD_S} s, grace ${GRACE_S} s, app shutdown ${APP_SHUTDOWN}, expose protocol ${PROTOCOL}; wrk -t${THREADS} -c${CONNECTIONS}; window ${window} s.`,
    );
    console.log(
      `Initial deploy ${(first.ms / 1000).toFixed(2)} s; unloaded rollout ${(warm.ms / 1000).toFixed(2)} s. ` +
        `Theoretical minimum (maxSurge 1 → one replica at a time): ${REPLICAS} × ${READY_DELAY_MS} ms = ${floor} ms; ` +
        `with the 1 s probe period: ${REPLICAS * PROBE_PERIOD_S * 1000} ms.`,
    );
    console.log('');
    console.log('| client | phase | requests | req/s | failed | p50 ms | p99 ms | max ms | rollout |');
    console.log('|---|---|---|---|---|---|---|---|---|');
    for (const row of rows) console.log(row);
  } finally {
    for (const child of running) child.kill('SIGKILL');
    await engine?.stop();
    await cleanupDataDir(dataDir);
    rmSync(root, { recursive: true, force: true });
  }
}

await main();
