/**
 * Converge profile: `kedge up` as a user runs it (the built CLI, `bin/kedge.js`, under `node --cpu-prof`) on
 * N Kustomizations × 10 ConfigMaps from one GitRepository, store target (no cluster: the engine's own cost,
 * no API server in the picture). Phases, each timed with the engine's CPU (user and system) from /proc:
 *   start → /readyz;  → all N Ready (converge);  a reconcile of all N at the same revision (requested, as the
 *   interval does);  a new commit touching one app → all N at the new revision.
 * Then stops the engine (SIGTERM), reads its CPU profile and prints the top functions by self time.
 * With `--before DIR` (another checkout, built) the same runs with that one first, in the same run.
 *
 * Usage: node --import tsx bench/profile/converge.ts [--n 100] [--before /path/to/checkout] [--keep]
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { requestReconcile } from '../../src/cli/reconcile-request.ts';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { createRepo } from '../../test/harness/git-repo.ts';
import { peakRssBytes } from '../sources/proc-usage.ts';
import { topFunctions, type ProfileEntry } from './cpu-profile.ts';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const N = Number(arg('--n') ?? '100');
const before = arg('--before');
const keep = process.argv.includes('--keep');
/** Only the converge phase (start → all Ready), e.g. for a slow baseline. */
const convergeOnly = process.argv.includes('--converge-only');
/** Profile only this checkout (built), instead of this one. */
const only = arg('--pkg');
const here = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const say = (line: string) => process.stderr.write(`[profile] ${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

function appFiles(i: number, serial = 0): Record<string, string> {
  const files: Record<string, string> = {};
  for (let k = 1; k <= 10; k++) {
    files[`apps/app-${i}/cm-${k}.yaml`] =
      `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-${k}\n  namespace: app-${i}\n` +
      `data:\n  index: "${k}"\n  serial: "${serial}"\n  text: "${'x'.repeat(200)}"\n`;
  }
  return files;
}

function manifests(url: string): string {
  const docs = [
    `apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: bench\n  namespace: default\n` +
      `spec:\n  interval: 10m\n  url: ${url}\n  ref:\n    branch: main\n`,
  ];
  for (let i = 0; i < N; i++) {
    docs.push(
      `apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: app-${i}\n  namespace: default\n` +
        `spec:\n  interval: 10m\n  path: ./apps/app-${i}\n  prune: true\n  wait: true\n` +
        `  sourceRef:\n    kind: GitRepository\n    name: bench\n`,
    );
  }
  return docs.join('---\n');
}

async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => ok(port));
    });
  });
}

interface Status {
  lastAppliedRevision?: string;
  lastHandledReconcileAt?: string;
  conditions?: { type: string; status: string }[];
}

async function waitAll(
  dataDir: string,
  done: (s: Status | undefined) => boolean,
  what: string,
  timeoutMs: number,
): Promise<void> {
  const store = await openSqliteStore(dataDir);
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const all = await store.list('Kustomization');
      const ok = all.filter((k) => done(k.status as Status | undefined)).length;
      if (all.length === N && ok === N) return;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${ok}/${N}`);
      await sleep(250);
    }
  } finally {
    await store.close();
  }
}

const ready = (s: Status | undefined) =>
  s?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;

const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/**
 * User and system CPU seconds of a live process, from /proc/<pid>/stat, and those of its reaped children
 * (`kustomize-build` and `git` processes) separately.
 */
function processCpuSplit(pid: number): { user: number; sys: number; children: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const at = (i: number) => Number(fields[i]) / CLOCK_TICKS;
  return { user: at(11), sys: at(12), children: at(13) + at(14) };
}

interface Phase {
  name: string;
  wallS: number;
  userS: number;
  sysS: number;
  childrenS: number;
}

async function runOne(
  label: string,
  pkg: string,
): Promise<{ phases: Phase[]; peakMiB: number; top: ProfileEntry[]; totalS: number }> {
  const work = mkdtempSync(join(tmpdir(), 'kedge-profile-'));
  try {
    const files: Record<string, string> = {};
    for (let i = 0; i < N; i++) Object.assign(files, appFiles(i));
    const repo = createRepo({ root: work, name: 'repo', files });
    writeFileSync(join(work, 'manifests.yaml'), manifests(repo.url));
    const dataDir = join(work, 'data');
    const profDir = join(work, 'prof');
    const metrics = await freePort();
    const started = Date.now();
    const child = spawn(
      process.execPath,
      [
        '--cpu-prof',
        '--cpu-prof-dir',
        profDir,
        join(pkg, 'bin', 'kedge.js'),
        '--data-dir',
        dataDir,
        '--log-level',
        'warn',
        'up',
        '-f',
        join(work, 'manifests.yaml'),
        '--storage-addr',
        '127.0.0.1:0',
        '--receiver-addr',
        '127.0.0.1:0',
        '--metrics-addr',
        `127.0.0.1:${metrics}`,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NO_COLOR: '1' } },
    );
    let warnings = 0;
    child.stderr.on('data', (chunk: Buffer) => {
      warnings += chunk
        .toString()
        .split('\n')
        .filter((l) => /"level":(40|50)|WARN|ERROR/.test(l)).length;
    });
    const exited = new Promise<void>((ok) => child.once('exit', () => ok()));
    const pid = child.pid!;
    const phases: Phase[] = [];
    let mark = { at: started, cpu: { user: 0, sys: 0, children: 0 } };
    const cpuNow = () => processCpuSplit(pid);
    const phase = (name: string) => {
      const cpu = cpuNow();
      const now = Date.now();
      phases.push({
        name,
        wallS: (now - mark.at) / 1000,
        userS: cpu.user - mark.cpu.user,
        sysS: cpu.sys - mark.cpu.sys,
        childrenS: cpu.children - mark.cpu.children,
      });
      say(
        `${label}: ${name} ${((now - mark.at) / 1000).toFixed(2)} s, cpu user ${(cpu.user - mark.cpu.user).toFixed(2)} sys ${(cpu.sys - mark.cpu.sys).toFixed(2)} children ${(cpu.children - mark.cpu.children).toFixed(2)}`,
      );
      mark = { at: now, cpu };
    };
    try {
      for (;;) {
        const ok = await fetch(`http://127.0.0.1:${metrics}/readyz`).then(
          (r) => r.ok,
          () => false,
        );
        if (ok) break;
        if (child.exitCode !== null) throw new Error('engine exited');
        await sleep(20);
      }
      phase('start → ready');
      await waitAll(dataDir, ready, 'all Ready', 60 * 60_000);
      phase(`converge: all ${N} Ready`);
      if (convergeOnly) return await finish();
      const store = await openSqliteStore(dataDir);
      const tokens = new Map<string, string>();
      for (let i = 0; i < N; i++) {
        tokens.set(
          `app-${i}`,
          await requestReconcile(store, { kind: 'Kustomization', namespace: 'default', name: `app-${i}` }),
        );
      }
      await waitAll(
        dataDir,
        (s) =>
          s?.lastHandledReconcileAt !== undefined &&
          [...tokens.values()].includes(s.lastHandledReconcileAt) &&
          ready(s),
        'requested round',
        60 * 60_000,
      );
      phase(`re-reconcile of all ${N}, same revision`);
      repo.commit(appFiles(0, 1), { message: 'change app-0' });
      const commit = repo.git('rev-parse', 'HEAD');
      await requestReconcile(store, { kind: 'GitRepository', namespace: 'default', name: 'bench' });
      await store.close();
      await waitAll(
        dataDir,
        (s) => s?.lastAppliedRevision?.endsWith(commit) === true && ready(s),
        'new revision',
        60 * 60_000,
      );
      phase(`new commit: all ${N} at the new revision`);
      return await finish();
    } finally {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    }
    async function finish() {
      const peakMiB = peakRssBytes(pid) / 2 ** 20;
      child.kill('SIGTERM');
      await exited;
      const prof = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
      if (!prof) throw new Error('no CPU profile written');
      const { top, totalS } = topFunctions(join(profDir, prof), 15, pkg);
      if (keep) say(`${label}: profile kept at ${join(profDir, prof)}`);
      say(`${label}: warning/error log lines: ${warnings}`);
      return { phases, peakMiB, top, totalS };
    }
  } finally {
    if (!keep) rmSync(work, { recursive: true, force: true });
  }
}

say(`N = ${N}, load ${load()}, ${new Date().toISOString()}`);
const runs: { label: string; pkg: string }[] = only
  ? [{ label: only, pkg: resolve(only) }]
  : [...(before ? [{ label: 'before', pkg: resolve(before) }] : []), { label: 'this checkout', pkg: here }];
const results = [];
for (const run of runs) results.push({ ...run, ...(await runOne(run.label, run.pkg)) });
say(`load at end ${load()}`);

const out: string[] = [];
out.push(`N = ${N}, ${new Date().toISOString()}, load at end ${load()}`, '');
out.push(
  `| phase | ${results.map((r) => `${r.label}: wall / user / sys / children CPU s`).join(' | ')} |${results.length > 1 ? ' ratio wall / CPU (incl. children) |' : ''}`,
);
out.push(`|---|${results.map(() => '---').join('|')}|${results.length > 1 ? '---|' : ''}`);
for (let p = 0; p < results[0]!.phases.length; p++) {
  const cells = results.map((r) => {
    const ph = r.phases[p]!;
    return `${ph.wallS.toFixed(2)} s / ${ph.userS.toFixed(2)} / ${ph.sysS.toFixed(2)} / ${ph.childrenS.toFixed(2)}`;
  });
  let ratio = '';
  if (results.length > 1) {
    const a = results[0]!.phases[p]!;
    const b = results[results.length - 1]!.phases[p]!;
    ratio = ` ${(b.wallS / a.wallS).toFixed(2)}× / ${((b.userS + b.sysS + b.childrenS) / Math.max(0.01, a.userS + a.sysS + a.childrenS)).toFixed(2)}× |`;
  }
  out.push(`| ${results[0]!.phases[p]!.name} | ${cells.join(' | ')} |${ratio}`);
}
out.push(
  `| peak RSS | ${results.map((r) => `${r.peakMiB.toFixed(0)} MiB`).join(' | ')} |${results.length > 1 ? ' |' : ''}`,
);
for (const r of results) {
  out.push(
    '',
    `Top self time, ${r.label} (profile total ${r.totalS.toFixed(1)} s):`,
    '',
    '| self s | % | function | where |',
    '|---|---|---|---|',
  );
  for (const e of r.top)
    out.push(`| ${e.selfS.toFixed(2)} | ${e.percent.toFixed(1)} | ${e.name} | ${e.where} |`);
}
process.stdout.write(`${out.join('\n')}\n`);
