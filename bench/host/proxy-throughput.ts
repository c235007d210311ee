/**
 * Expose-proxy throughput: `wrk` with keep-alive connections against the same replicas, four ways, in
 * interleaved rounds on the same machine:
 *   - direct: one replica's own port (the baseline; no proxy);
 *   - kedge: Kedge's HTTP expose proxy (`listenExposeProxy`, protocol http) in front of all replicas;
 *   - before: the same from another source tree (`--before <dir>`, e.g. a `git archive` of an older commit);
 *   - caddy: Caddy's `reverse_proxy` (round robin) in front of the same replicas;
 *   - split: Kedge's HTTP expose proxy splitting 50/50 between two halves of the replicas, as during a canary
 *     (weighted draw per request, per-revision counts).
 * Each round runs every target once for W seconds, in an order rotated from round to round, so slow phases
 * of a shared machine hit every target alike; the report gives each target's median req/s, p50 and p99 and
 * their ratios to direct. wrk is pinned to one CPU (`taskset -c <cpu>`). Prints markdown on stdout.
 * Needs `wrk` and, for the caddy target, `caddy` on PATH (Debian packages; bench-only).
 * Proxy CPU per request is read from /proc (Caddy's process; this whole process for Kedge, every thread),
 * replica CPU per request likewise. `--main-busy <ms>` blocks this process's main thread (where the engine
 * runs) for that long in every 100 ms, as reconciles would.
 * Usage: node --import tsx bench/host/proxy-throughput.ts [--rounds 5] [--seconds 5] [--replicas 4]
 *        [--connections 16] [--threads 1] [--wrk-cpu 1] [--targets direct,kedge,caddy] [--before <dir>]
 *        [--tree <name>=<dir> …] [--main-busy <ms>]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { freeLoopbackPort } from '../../src/devcluster/free-port.ts';

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
};
const ROUNDS = Number(arg('--rounds', '5'));
const SECONDS = Number(arg('--seconds', '5'));
const REPLICAS = Number(arg('--replicas', '4'));
const CONNECTIONS = Number(arg('--connections', '16'));
const THREADS = Number(arg('--threads', '1'));
const WRK_CPU = arg('--wrk-cpu', '1');
/** Blocks this process's main thread (the engine's event loop) for this many ms in every 100 ms. */
const MAIN_BUSY_MS = Number(arg('--main-busy', '0'));
const BEFORE = process.argv.includes('--before') ? resolve(arg('--before', '')) : undefined;
/** More source trees to compare, `--tree <name>=<dir>` (repeatable); each becomes a target of that name. */
const TREES: Record<string, string> = {};
for (let i = 1; i < process.argv.length; i++) {
  if (process.argv[i - 1] !== '--tree') continue;
  const [name, dir] = process.argv[i]!.split('=');
  TREES[name!] = resolve(dir!);
}
const TARGETS = arg('--targets', BEFORE ? 'direct,before,kedge,caddy' : 'direct,kedge,caddy').split(',');

const say = (line: string) => process.stderr.write(`[bench] ${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The replica: a plain node HTTP server answering `v1` (the same body as bench/host/run.ts's app). */
const APP = `require('node:http').createServer((req, res) => res.end('v1'))
  .listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));`;

const WRK_DONE = `done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"requests":%d,"durationUs":%d,"errors":%d,"status":%d,"p50Us":%d,"p99Us":%d}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99)))
end
`;

interface Sample {
  rps: number;
  /** CPU time of the proxy (µs per request): this process for Kedge (every thread), Caddy's process. */
  proxyCpuUs: number;
  /** CPU time of the replicas together (µs per request). */
  replicaCpuUs: number;
  p50Us: number;
  p99Us: number;
  failed: number;
  load: number;
}

const children = new Set<ChildProcess>();

function start(command: string, args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  const child = spawn(command, args, {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, ...env },
  });
  let err = '';
  child.stderr?.on('data', (chunk: Buffer) => (err = (err + chunk.toString()).slice(-4000)));
  child.on('exit', (code) => {
    children.delete(child);
    if (code && code !== 0) say(`${command} exited ${code}: ${err}`);
  });
  children.add(child);
  return child;
}

/** Resolves once 127.0.0.1:`port` accepts connections (or throws after 20 s). */
async function listening(port: number): Promise<void> {
  for (let t0 = Date.now(); Date.now() - t0 < 20_000; await sleep(50)) {
    const ok = await new Promise<boolean>((done) => {
      const socket = connect({ host: '127.0.0.1', port });
      socket.once('connect', () => done(socket.destroy() !== undefined));
      socket.once('error', () => done(false));
    });
    if (ok) return;
  }
  throw new Error(`nothing listens on 127.0.0.1:${port} after 20 s`);
}

const TICK_US = 10_000; // /proc/<pid>/stat counts CPU time in clock ticks of 10 ms (CLK_TCK 100)

/** User + system CPU time of `pid` so far, in µs (from `/proc/<pid>/stat`, fields 14 and 15). */
function cpuUs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * TICK_US;
}

/** CPU meters read around a wrk run: the proxy's and the replicas'. */
interface Meters {
  proxy: () => number;
  replicas: () => number;
}

async function measure(port: number, seconds: number, script: string, meters: Meters): Promise<Sample> {
  const proxy0 = meters.proxy();
  const replicas0 = meters.replicas();
  const sample = await wrk(port, seconds, script);
  const requests = sample.rps * seconds || 1;
  sample.proxyCpuUs = (meters.proxy() - proxy0) / requests;
  sample.replicaCpuUs = (meters.replicas() - replicas0) / requests;
  return sample;
}

function wrk(port: number, seconds: number, script: string): Promise<Sample> {
  const load = loadavg()[0]!;
  const args = [...['-c', WRK_CPU, 'wrk', '-t', String(THREADS), '-c', String(CONNECTIONS)]];
  args.push('-d', `${seconds}s`, '--timeout', '15s', '-s', script, `http://127.0.0.1:${port}/`);
  const child = spawn('taskset', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
  return new Promise((done, fail) =>
    child.on('close', () => {
      children.delete(child);
      const line = out.split('\n').find((l) => l.startsWith('{"requests"'));
      if (!line) return fail(new Error(`wrk printed no summary:\n${out}`));
      const r = JSON.parse(line) as Record<string, number>;
      done({
        rps: r.requests! / (r.durationUs! / 1e6),
        p50Us: r.p50Us!,
        p99Us: r.p99Us!,
        proxyCpuUs: 0,
        replicaCpuUs: 0,
        failed: r.errors! + r.status!,
        load,
      });
    }),
  );
}

interface Proxy {
  port: number;
  /** CPU time used so far by the proxy, µs. */
  cpu: () => number;
  close(): Promise<void>;
}

/** Kedge's HTTP expose proxy from the source tree at `root`, in this process (as the engine runs it). */
async function kedgeProxy(root: string, backends: number[], split = false): Promise<Proxy> {
  const module = (await import(pathToFileURL(join(root, 'src/host/expose-proxy.ts')).href)) as {
    listenExposeProxy: (
      port: number,
      options: { protocol: 'http'; owner: string },
    ) => Promise<{ setBackends(ports: number[], traffic?: unknown): void; close(): Promise<void> }>;
  };
  const port = await freeLoopbackPort();
  const proxy = await module.listenExposeProxy(port, { protocol: 'http', owner: "App 'default/web'" });
  if (split) {
    // Half the replicas play the stable revision, half the canary, at weight 50.
    const half = Math.ceil(backends.length / 2);
    const revisions = Object.fromEntries(backends.map((p, i) => [p, i < half ? 'stable' : 'canary']));
    proxy.setBackends(backends.slice(0, half), {
      split: { canaryPorts: backends.slice(half), weight: 50 },
      revisions,
    });
  } else proxy.setBackends(backends);
  const self = () => {
    const usage = process.cpuUsage();
    return usage.user + usage.system;
  };
  return { port, cpu: self, close: () => proxy.close() };
}

async function caddyProxy(dir: string, backends: number[]): Promise<Proxy> {
  const port = await freeLoopbackPort();
  const upstreams = backends.map((p) => `127.0.0.1:${p}`).join(' ');
  const config = join(dir, 'Caddyfile');
  writeFileSync(
    config,
    `{\n\tadmin off\n\tauto_https off\n}\n` +
      `http://127.0.0.1:${port} {\n\tbind 127.0.0.1\n\treverse_proxy ${upstreams} {\n\t\tlb_policy round_robin\n\t}\n}\n`,
  );
  const child = start('caddy', ['run', '--config', config, '--adapter', 'caddyfile'], {
    XDG_DATA_HOME: dir,
    XDG_CONFIG_HOME: dir,
  });
  await listening(port);
  return {
    port,
    cpu: () => cpuUs(child.pid!),
    close: async () => {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode === null ? child.once('exit', r) : r(undefined)));
    },
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'kedge-bench-proxy-'));
  const script = join(dir, 'done.lua');
  writeFileSync(script, WRK_DONE);
  const proxies: Proxy[] = [];
  const stop = async () => {
    for (const proxy of proxies) await proxy.close().catch(() => undefined);
    for (const child of children) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('SIGINT', () => void stop().finally(() => process.exit(130)));
  try {
    const backends: number[] = [];
    const replicaPids: number[] = [];
    for (let i = 0; i < REPLICAS; i++) {
      const port = await freeLoopbackPort();
      replicaPids.push(start(process.execPath, ['-e', APP], { PORT: String(port) }).pid!);
      backends.push(port);
    }
    const replicasCpu = () => replicaPids.reduce((sum, pid) => sum + cpuUs(pid), 0);
    await Promise.all(backends.map(listening));
    const ports: Record<string, number> = { direct: backends[0]! };
    const meters: Record<string, Meters> = { direct: { proxy: () => 0, replicas: replicasCpu } };
    for (const target of TARGETS) {
      let proxy: Proxy | undefined;
      if (target === 'kedge') proxy = await kedgeProxy(resolve(import.meta.dirname, '../..'), backends);
      else if (target === 'before') proxy = await kedgeProxy(BEFORE!, backends);
      else if (target === 'caddy') proxy = await caddyProxy(dir, backends);
      else if (target === 'split')
        proxy = await kedgeProxy(resolve(import.meta.dirname, '../..'), backends, true);
      else if (TREES[target]) proxy = await kedgeProxy(TREES[target], backends);
      else if (target !== 'direct') throw new Error(`unknown target '${target}'`);
      if (proxy) {
        proxies.push(proxy);
        ports[target] = proxy.port;
        meters[target] = { proxy: proxy.cpu, replicas: replicasCpu };
      }
    }
    if (MAIN_BUSY_MS > 0) {
      // Stands in for an engine at work (reconciles, renders, store writes) on the thread a proxy may share.
      const busy = setInterval(() => {
        for (const t0 = performance.now(); performance.now() - t0 < MAIN_BUSY_MS;);
      }, 100);
      busy.unref();
    }
    say(`warming up ${TARGETS.join(', ')} (1 s each)`);
    for (const target of TARGETS) await wrk(ports[target]!, 1, script);
    const samples: Record<string, Sample[]> = Object.fromEntries(TARGETS.map((t) => [t, []]));
    const loadAtStart = loadavg();
    for (let round = 0; round < ROUNDS; round++) {
      const order = TARGETS.map((_, i) => TARGETS[(i + round) % TARGETS.length]!);
      for (const target of order) {
        const sample = await measure(ports[target]!, SECONDS, script, meters[target]!);
        samples[target]!.push(sample);
        say(
          `round ${round + 1} ${target}: ${sample.rps.toFixed(0)} req/s, p50 ${(sample.p50Us / 1000).toFixed(2)} ms, ` +
            `p99 ${(sample.p99Us / 1000).toFixed(2)} ms, failed ${sample.failed}, CPU/request proxy ` +
            `${sample.proxyCpuUs.toFixed(0)} µs replicas ${sample.replicaCpuUs.toFixed(0)} µs, load ${sample.load.toFixed(1)}`,
        );
      }
    }
    const loadAtEnd = loadavg();
    const base = samples.direct;
    const baseRps = base ? median(base.map((s) => s.rps)) : NaN;
    const baseP99 = base ? median(base.map((s) => s.p99Us)) : NaN;
    console.log(`## Proxy throughput ${new Date().toISOString()}`);
    console.log('');
    console.log(
      `${cpus().length} CPUs, Node ${process.version}; ${REPLICAS} replicas; ` +
        `\`taskset -c ${WRK_CPU} wrk -t${THREADS} -c${CONNECTIONS} -d${SECONDS}s\` (keep-alive); ${ROUNDS} rounds; ` +
        `main thread busy ${MAIN_BUSY_MS} ms every 100 ms; ` +
        `load average ${loadAtStart.map((l) => l.toFixed(1)).join(' ')} at start, ${loadAtEnd.map((l) => l.toFixed(1)).join(' ')} at end.`,
    );
    console.log('');
    console.log(
      '| target | req/s (median) | req/s per round | p50 ms | p99 ms | failed | / direct req/s | / direct p99 | proxy CPU µs/req | replicas CPU µs/req |',
    );
    console.log('|---|---|---|---|---|---|---|---|---|---|');
    for (const target of TARGETS) {
      const s = samples[target]!;
      const rps = median(s.map((x) => x.rps));
      const p99 = median(s.map((x) => x.p99Us));
      console.log(
        `| ${target} | ${rps.toFixed(0)} | ${s.map((x) => x.rps.toFixed(0)).join(' / ')} | ` +
          `${(median(s.map((x) => x.p50Us)) / 1000).toFixed(2)} | ${(p99 / 1000).toFixed(2)} | ` +
          `${s.reduce((n, x) => n + x.failed, 0)} | ${(rps / baseRps).toFixed(2)} | ${(p99 / baseP99).toFixed(2)} | ` +
          `${median(s.map((x) => x.proxyCpuUs)).toFixed(0)} | ${median(s.map((x) => x.replicaCpuUs)).toFixed(0)} |`,
      );
    }
  } finally {
    await stop();
  }
}

await main();
