/**
 * Git sources benchmark: N GitRepositories vs plain `git clone --depth 1` of the same N repositories, measured
 * in the same run. `node --import tsx bench/sources/run.ts [--repos 500] [--interval 30s] [--idle 60] [--no-daemon]`.
 * Prints a markdown report. Everything it starts (engines, git daemon, kedge processes) is stopped at the end.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, freemem, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseManifests } from '../../src/api/manifest.ts';
import { parseDuration } from '../../src/api/duration.ts';
import { startEngine, type Engine } from '../../src/engine.ts';
import { createLogger } from '../../src/runtime/logger.ts';
import { freeLoopbackPort as freePort } from '../../src/devcluster/free-port.ts';
import { startGitDaemon, type BenchGitServer as BenchGitDaemon } from '../lib/git-servers.ts';
import { cloneRound, type CloneRound } from './clone-baseline.ts';
import { countGitExecs, execCountText } from './git-exec-count.ts';
import { gitOps, gitOpsSince, waitAllReady, waitForRevision } from './engine-probe.ts';
import { createFixtureRepos, gitRepositoryManifests } from './fixture-repos.ts';
import { gitRepositorySuccesses, startKedge, until, type KedgeProcess } from './kedge-process.ts';
import { cpuSince, peakRssBytes, processCpu, rssBytes, sampleRss, type CpuSeconds } from './proc-usage.ts';

const { values: flags } = parseArgs({
  options: {
    repos: { type: 'string', default: '100' },
    interval: { type: 'string', default: '30s' },
    idle: { type: 'string', default: '60' },
    commits: { type: 'string', default: '5' },
    'no-daemon': { type: 'boolean', default: false },
    'first-sync-only': { type: 'boolean', default: false },
    'no-sequential': { type: 'boolean', default: false },
    count: { type: 'string', default: '20' },
  },
});
const N = Number(flags.repos);
const POLL_INTERVAL = flags.interval;
const POLL_MS = parseDuration(POLL_INTERVAL);
const IDLE_MS = Number(flags.idle) * 1000;
const COMMITS = Number(flags.commits);
const COUNTED = Math.min(N, Number(flags.count));
const CONCURRENCY = 4; // the engine's default (EngineSettings.concurrency)
const NAMESPACE = 'bench';
const READY_TIMEOUT_MS = 20 * 60_000;

const rows: Array<[string, string, string, string]> = [];
const row = (figure: string, kedge: string, baseline: string, ratio: string): void =>
  void rows.push([figure, kedge, baseline, ratio]);
const s = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
const cpuText = (cpu: CpuSeconds): string =>
  `${cpu.total.toFixed(2)} s CPU (${cpu.own.toFixed(2)} node + ${cpu.children.toFixed(2)} git)`;
const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
const x = (a: number, b: number): string => `${(a / b).toFixed(2)}×`;
const progress = (line: string): void =>
  void process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const root = mkdtempSync(join(tmpdir(), 'kedge-bench-sources-'));
const cleanups: Array<() => Promise<void> | void> = [() => rmSync(root, { recursive: true, force: true })];
let dataDirs = 0;
const newDataDir = (): string => mkdtempSync(join(root, `data-${dataDirs++}-`));

async function inProcessEngine(): Promise<{ engine: Engine; startMs: number }> {
  const t = performance.now();
  const engine = await startEngine({
    dataDir: newDataDir(),
    storageAddress: { host: '127.0.0.1', port: 0 },
    metricsAddress: { host: '127.0.0.1', port: 0 },
    receiverAddress: { host: '127.0.0.1', port: 0 },
    concurrency: CONCURRENCY,
    log: createLogger({ level: 'silent', format: 'json' }),
  });
  cleanups.unshift(() => engine.stop());
  return { engine, startMs: performance.now() - t };
}

async function apply(engine: Engine, yaml: string): Promise<void> {
  for (const object of parseManifests(yaml, 'bench.yaml')) await engine.store.apply(object);
}

/** Figure 1 in-process: apply N objects to a started engine, time until all are Ready. */
async function timeToReady(
  engine: Engine,
  yaml: string,
): Promise<{ ms: number; cpu: CpuSeconds; ops: Awaited<ReturnType<typeof gitOps>> }> {
  const ops = await gitOps(engine.metrics);
  const cpu = processCpu('self');
  const t = performance.now();
  await apply(engine, yaml);
  await waitAllReady(engine.store, NAMESPACE, N, READY_TIMEOUT_MS);
  return {
    ms: performance.now() - t,
    cpu: cpuSince(cpu, processCpu('self')),
    ops: gitOpsSince(ops, await gitOps(engine.metrics)),
  };
}

function baselineRows(label: string, seq: CloneRound, par: CloneRound): void {
  if (seq !== par)
    row(`${label}: clone baseline, sequential`, '', `${s(seq.wallMs)}, ${cpuText(seq.cpu)}`, '');
  row(`${label}: clone baseline, ${CONCURRENCY} at once`, '', `${s(par.wallMs)}, ${cpuText(par.cpu)}`, '');
}

/** Processes per repository for a first sync vs a clone (strace; a separate pass, not timed). */
async function processesPerRepository(names: string[], fileUrl: (name: string) => string): Promise<void> {
  progress(`counting processes per repository (${COUNTED} repositories, under strace)`);
  const counted = names.slice(0, COUNTED);
  const cloneCount = await countGitExecs(root, COUNTED, async () => {
    await cloneRound(counted.map(fileUrl), 1, root);
  });
  const engineCount = await countGitExecs(root, COUNTED, async () => {
    const { engine } = await inProcessEngine();
    await apply(engine, gitRepositoryManifests(counted, fileUrl, '10m'));
    await waitAllReady(engine.store, NAMESPACE, COUNTED, READY_TIMEOUT_MS);
    await engine.stop();
  });
  row(
    `file://: processes per repository, first sync (${COUNTED} repositories)`,
    execCountText(engineCount),
    `clone: ${execCountText(cloneCount)}`,
    `${x(engineCount.gitCommands, cloneCount.gitCommands)} git commands; ${x(engineCount.execs, cloneCount.execs)} processes`,
  );
}

async function main(): Promise<void> {
  progress(`creating ${N} repositories under ${root}`);
  const repos = createFixtureRepos(join(root, 'repos'), N);
  const fileUrl = (name: string): string => `file://${repos.root}/${name}`;
  const load = loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

  // ---- Figure 1, file://: baselines, then the engine in-process.
  progress('clone baseline (file://)');
  const par = await cloneRound(repos.names.map(fileUrl), CONCURRENCY, root);
  const seq = flags['no-sequential'] ? par : await cloneRound(repos.names.map(fileUrl), 1, root);
  baselineRows('file://', seq, par);
  progress('engine in-process (file://), interval 10m');
  const { engine, startMs } = await inProcessEngine();
  const ready = await timeToReady(engine, gitRepositoryManifests(repos.names, fileUrl, '10m'));
  row(
    `file://: all ${N} Ready, engine in-process (startEngine ${s(startMs)} not included)`,
    `${s(ready.ms)}, ${cpuText(ready.cpu)}; ${ready.ops.lsRemote.count} ls-remote + ${ready.ops.checkout.count} checkout`,
    seq === par
      ? `${s(par.wallMs)} (${CONCURRENCY} at once)`
      : `${s(par.wallMs)} (${CONCURRENCY} at once) / ${s(seq.wallMs)} (sequential)`,
    seq === par
      ? `${x(ready.ms, par.wallMs)}; CPU ${x(ready.cpu.total, par.cpu.total)}`
      : `${x(ready.ms, par.wallMs)} / ${x(ready.ms, seq.wallMs)}; CPU ${x(ready.cpu.total, par.cpu.total)}`,
  );

  if (flags['first-sync-only']) {
    await engine.stop();
    await processesPerRepository(repos.names, fileUrl);
    return report(load);
  }

  // ---- Figure 2: short interval, cost of a polling round and commit → artifact latency.
  progress(`re-applying with interval ${POLL_INTERVAL}`);
  await apply(engine, gitRepositoryManifests(repos.names, fileUrl, POLL_INTERVAL));
  await waitAllReady(engine.store, NAMESPACE, N, READY_TIMEOUT_MS);
  progress('settling one interval');
  await sleep(POLL_MS);
  progress(`measuring two polling rounds (${s(2 * POLL_MS)}), nothing moved`);
  const ops0 = await gitOps(engine.metrics);
  const cpu0 = processCpu('self');
  await sleep(2 * POLL_MS);
  const roundCpu = cpuSince(cpu0, processCpu('self'));
  const roundOps = gitOpsSince(ops0, await gitOps(engine.metrics));
  const perRound = { total: roundCpu.total / 2, own: roundCpu.own / 2, children: roundCpu.children / 2 };
  row(
    `one polling round, ${N} at ${POLL_INTERVAL}, nothing moved (2 rounds ÷ 2)`,
    `${cpuText(perRound)}; ${roundOps.lsRemote.count / 2} ls-remote (Σ ${(roundOps.lsRemote.seconds / 2).toFixed(1)} s), ${roundOps.checkout.count / 2} checkout`,
    `re-clone round (${CONCURRENCY} at once): ${cpuText(par.cpu)}, Σ clone time ${(par.sumCloneMs / 1000).toFixed(1)} s`,
    `CPU ${x(perRound.total, par.cpu.total)}; git time ${x(roundOps.lsRemote.seconds / 2, par.sumCloneMs / 1000)}`,
  );
  row(
    `polling cost per ${POLL_INTERVAL}, as share of 2 cores`,
    `${((perRound.total / (POLL_MS / 1000) / cpus().length) * 100).toFixed(1)} %`,
    `re-cloning every ${POLL_INTERVAL}: ${((par.cpu.total / (POLL_MS / 1000) / cpus().length) * 100).toFixed(1)} %`,
    '',
  );
  progress(`${COMMITS} commits, one every ${s(POLL_MS / COMMITS)}`);
  const latencies = await Promise.all(
    Array.from({ length: COMMITS }, async (_, i) => {
      await sleep((i * POLL_MS) / COMMITS);
      const name = repos.names[Math.floor(((i + 0.5) * N) / COMMITS)]!;
      const commit = repos.commit(name);
      const t = performance.now();
      return (await waitForRevision(engine.store, NAMESPACE, name, commit, 3 * POLL_MS + 60_000)) - t;
    }),
  );
  latencies.sort((a, b) => a - b);
  const p50 = latencies[Math.floor((latencies.length - 1) / 2)]!;
  row(
    `commit → new artifact, ${COMMITS} commits, interval ${POLL_INTERVAL}`,
    `p50 ${s(p50)}, max ${s(latencies.at(-1)!)} (all: ${latencies.map((l) => (l / 1000).toFixed(1)).join(', ')} s)`,
    `expected from polling alone: mean ${s(POLL_MS / 2)}, max ${s(POLL_MS * 1.05)}`,
    '',
  );
  await engine.stop();
  await processesPerRepository(repos.names, fileUrl);

  // ---- Figure 1 over git daemon.
  if (!flags['no-daemon']) {
    progress('git daemon: baselines and engine in-process');
    const daemon: BenchGitDaemon = await startGitDaemon(repos.root);
    cleanups.unshift(() => daemon.stop());
    const dseq = await cloneRound(
      repos.names.map((n) => daemon.url(n)),
      1,
      root,
    );
    const dpar = await cloneRound(
      repos.names.map((n) => daemon.url(n)),
      CONCURRENCY,
      root,
    );
    baselineRows('git://', dseq, dpar);
    const { engine: dengine } = await inProcessEngine();
    const dready = await timeToReady(
      dengine,
      gitRepositoryManifests(repos.names, (n) => daemon.url(n), '10m'),
    );
    row(
      `git:// (git daemon): all ${N} Ready, engine in-process`,
      `${s(dready.ms)}, ${cpuText(dready.cpu)}`,
      `${s(dpar.wallMs)} (${CONCURRENCY} at once) / ${s(dseq.wallMs)} (sequential)`,
      `${x(dready.ms, dpar.wallMs)} / ${x(dready.ms, dseq.wallMs)}; CPU ${x(dready.cpu.total, dpar.cpu.total)}`,
    );
    await dengine.stop();
    await daemon.stop();
  }

  // ---- Figure 1 through the binary: `kedge up --once -f DIR`, start-up included.
  const manifestDir = join(root, 'manifests');
  mkdirSync(manifestDir);
  writeFileSync(
    join(manifestDir, 'gitrepositories.yaml'),
    gitRepositoryManifests(repos.names, fileUrl, '10m'),
  );
  const ports = ['--storage-addr', '127.0.0.1:0', '--receiver-addr', '127.0.0.1:0'];
  progress('kedge up --once -f DIR (binary)');
  const t = performance.now();
  const once = startKedge(newDataDir(), [
    'up',
    '--once',
    '--timeout',
    '20m',
    '-f',
    manifestDir,
    ...ports,
    '--metrics-addr',
    '127.0.0.1:0',
  ]);
  cleanups.unshift(() => once.stop());
  const code = await once.exited;
  const onceMs = performance.now() - t;
  if (code !== 0) throw new Error(`kedge up --once exited with ${code}`);
  row(
    `file://: \`kedge up --once -f DIR\` exits 0 (process start, start-up, apply, all Ready, stop)`,
    s(onceMs),
    `${s(par.wallMs)} (${CONCURRENCY} at once) / ${s(seq.wallMs)} (sequential)`,
    `${x(onceMs, par.wallMs)} / ${x(onceMs, seq.wallMs)}`,
  );

  // ---- Figure 3: idle CPU and RSS, N objects at 10m vs an empty engine, both `kedge up` processes.
  progress('idle: empty engine and engine with objects (binary)');
  const emptyDir = join(root, 'empty');
  mkdirSync(emptyDir);
  const start = async (dir: string): Promise<{ proc: KedgeProcess; metricsUrl: string }> => {
    const metricsUrl = `http://127.0.0.1:${await freePort()}`;
    const proc = startKedge(newDataDir(), [
      'up',
      '-f',
      dir,
      ...ports,
      '--metrics-addr',
      metricsUrl.slice('http://'.length),
    ]);
    cleanups.unshift(() => proc.stop());
    await until('kedge /readyz', 120_000, () =>
      fetch(`${metricsUrl}/readyz`)
        .then((r) => r.ok)
        .catch(() => false),
    );
    return { proc, metricsUrl };
  };
  const empty = await start(emptyDir);
  const emptyRssAfterStart = rssBytes(empty.proc.pid);
  const tFull = performance.now();
  const full = await start(manifestDir);
  const fullRssAfterStart = rssBytes(full.proc.pid);
  await until(
    `${N} GitRepository reconciles`,
    READY_TIMEOUT_MS,
    async () => (await gitRepositorySuccesses(full.metricsUrl)) >= N,
  );
  const fullReadyMs = performance.now() - tFull;
  const fullRssReady = rssBytes(full.proc.pid);
  await sleep(5000);
  const cpuE = processCpu(empty.proc.pid);
  const cpuF = processCpu(full.proc.pid);
  progress(`idle window ${s(IDLE_MS)}`);
  const [peakE, peakF] = await Promise.all([
    sampleRss(empty.proc.pid, IDLE_MS),
    sampleRss(full.proc.pid, IDLE_MS),
  ]);
  const idleE = cpuSince(cpuE, processCpu(empty.proc.pid));
  const idleF = cpuSince(cpuF, processCpu(full.proc.pid));
  const hwmE = peakRssBytes(empty.proc.pid);
  const hwmF = peakRssBytes(full.proc.pid);
  await Promise.all([empty.proc.stop(), full.proc.stop()]);
  row(
    `\`kedge up -f DIR\` with ${N} objects: process start → ${N} reconciled (metrics)`,
    s(fullReadyMs),
    '',
    '',
  );
  row(
    `RSS right after start (/readyz)`,
    mib(fullRssAfterStart),
    `empty engine: ${mib(emptyRssAfterStart)}`,
    x(fullRssAfterStart, emptyRssAfterStart),
  );
  row(`RSS once all ${N} Ready`, mib(fullRssReady), '', '');
  row(
    `idle ${s(IDLE_MS)}, ${N} objects at 10m: CPU`,
    cpuText(idleF),
    `empty engine: ${cpuText(idleE)}`,
    idleE.total > 0 ? x(idleF.total, idleE.total) : 'n/a',
  );
  row(
    `idle ${s(IDLE_MS)}: peak RSS (sampled every 250 ms)`,
    mib(peakF),
    `empty engine: ${mib(peakE)}`,
    x(peakF, peakE),
  );
  row(`peak RSS over the process's life (VmHWM)`, mib(hwmF), `empty engine: ${mib(hwmE)}`, x(hwmF, hwmE));

  report(load);
}

/** Prints the markdown table of every row recorded. */
function report(load: string): void {
  const header = [
    `## Git sources benchmark, ${N} repositories — ${new Date().toISOString()}`,
    '',
    `Machine: ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM (${(freemem() / 2 ** 30).toFixed(1)} free), ` +
      `node ${process.version}, ${execFileSync('git', ['--version'], { encoding: 'utf8' }).trim()}; load average at start ${load}, at end ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}.`,
    `Engine concurrency ${CONCURRENCY} (default); baseline = \`git clone -q --depth 1 --branch main\`, same repositories, same run.`,
    '',
    '| Figure | Kedge | Baseline | Ratio (Kedge / baseline) |',
    '|---|---|---|---|',
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ];
  process.stdout.write(`${header.join('\n')}\n`);
}

try {
  await main();
} finally {
  for (const cleanup of cleanups)
    await Promise.resolve()
      .then(cleanup)
      .catch(() => undefined);
}
