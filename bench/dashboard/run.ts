// Dashboard benchmark: 1,000 Kustomizations in the SQLite store, the engine (`bin/kedge.js up`, the shipped
// bundle) serving the dashboard, headless Debian chromium driven by Playwright. Measures time to first render of
// the Kustomization list, time from a status write to the row changing on screen, and the engine's CPU over the
// same window and the same write rate with no dashboard open vs 5 open. Usage:
//   npm run build && node --import tsx bench/dashboard/run.ts [--objects 1000] [--window 30]
import { spawn, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import type { Condition } from '../../src/api/meta.ts';
import { openStore } from '../../src/store/open-store.ts';
import type { Store } from '../../src/store/store.ts';

const args = process.argv.slice(2);
const flag = (name: string, fallback: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const N = flag('objects', 1000);
const WINDOW_S = flag('window', 30);
const DASHBOARDS = 5;
const root = resolve(import.meta.dirname, '../..');
const say = (line: string) => process.stdout.write(`${line}\n`);
const uptime = () =>
  execFileSync('uptime', { encoding: 'utf8' })
    .trim()
    .replace(/.*load average: /, '');

const name = (i: number) => `ks-${String(i).padStart(4, '0')}`;
const ready = (status: Condition['status'], reason: string, message: string): Condition => ({
  type: 'Ready',
  status,
  reason,
  message,
  lastTransitionTime: new Date().toISOString(),
});

/** N suspended Kustomizations (the engine reconciles none of them: only the dashboard does work), 5 % failing. */
async function seed(store: Store): Promise<void> {
  // Their source, suspended too (a store without any GitRepository would make `kedge up` bootstrap its example).
  await store.apply({
    apiVersion: 'source.toolkit.fluxcd.io/v1',
    kind: 'GitRepository',
    metadata: { name: 'fleet', namespace: 'default' },
    spec: { interval: '10m', url: 'https://git.example/fleet.git', ref: { branch: 'main' }, suspend: true },
  });
  for (let i = 0; i < N; i++) {
    const { object } = await store.apply({
      apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
      kind: 'Kustomization',
      metadata: { name: name(i), namespace: 'default' },
      spec: {
        interval: '10m',
        path: `./apps/${i}`,
        prune: true,
        suspend: true,
        sourceRef: { kind: 'GitRepository', name: 'fleet' },
        dependsOn: i % 10 ? [{ name: name(i - (i % 10)) }] : undefined,
      },
    });
    const failing = i % 20 === 0;
    await store.updateStatus(
      { kind: 'Kustomization', namespace: 'default', name: object.metadata.name },
      {
        lastAppliedRevision: `main@sha1:${'0'.repeat(40)}`,
        conditions: [
          failing
            ? ready('False', 'BuildFailed', `kustomization path './apps/${i}' not found`)
            : ready('True', 'ReconciliationSucceeded', `Applied revision: main@sha1:${'0'.repeat(40)}`),
        ],
      },
    );
  }
}

/** A status write as the engine makes one: a new applied revision on ks-0000 (the first row: it is failing). */
let revisionCounter = 0;
async function writeRevision(store: Store): Promise<string> {
  const hex = (++revisionCounter).toString(16).padStart(12, '0');
  const revision = `main@sha1:${hex}${'f'.repeat(28)}`;
  await store.updateStatus(
    { kind: 'Kustomization', namespace: 'default', name: name(0) },
    {
      lastAppliedRevision: revision,
      conditions: [ready('False', 'BuildFailed', `build of ${hex} failed`)],
    },
  );
  return hex;
}

function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, clock ticks
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function startEngine(dataDir: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(
    process.execPath,
    [
      join(root, 'bin/kedge.js'),
      '--data-dir',
      dataDir,
      '--log-level',
      'warn',
      'up',
      '--storage-addr',
      ':0',
      '--metrics-addr',
      ':0',
      '--receiver-addr',
      ':0',
      '--web-addr',
      '127.0.0.1:0',
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '1' },
    },
  );
  const url = await new Promise<string>((ok, fail) => {
    let out = '';
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const match = /dashboard (http:\/\/\S+)/.exec(out);
      if (match?.[1]) ok(match[1]);
    });
    child.once('exit', (code) => fail(new Error(`kedge up exited ${code}: ${out}`)));
  });
  child.stdout.resume();
  child.stderr.resume();
  return { child, url };
}

/** Engine CPU over WINDOW_S seconds while one status write per second goes to the store. */
async function cpuWindow(pid: number, store: Store): Promise<number> {
  const before = cpuSeconds(pid);
  for (let s = 0; s < WINDOW_S; s++) {
    await writeRevision(store);
    await new Promise((r) => setTimeout(r, 1000));
  }
  return cpuSeconds(pid) - before;
}

async function firstRender(context: BrowserContext, url: string): Promise<{ page: Page; ms: number }> {
  const page = await context.newPage();
  await page.setViewportSize({ width: 1280, height: 800 });
  page.on('pageerror', (e) => say(`page error: ${e.message}`));
  const started = performance.now();
  await page.goto(`${url}/#/kind/Kustomization`);
  // Page-side expressions as text: this file is type-checked without the DOM library.
  await page
    .waitForFunction(
      `document.querySelectorAll('.row').length > 0 && document.querySelector('h1')?.textContent?.includes('${N}')`,
      undefined,
      { polling: 'raf', timeout: 60_000 },
    )
    .catch(async (error: unknown) => {
      await page.screenshot({ path: '/tmp/bench-dashboard-fail.png' });
      say(`h1: ${await page.locator('h1').textContent()}, rows: ${await page.locator('.row').count()}`);
      throw error;
    });
  return { page, ms: performance.now() - started };
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'kedge-bench-dashboard-'));
  const dataDir = join(work, 'data');
  let engine: ChildProcess | undefined;
  let context: BrowserContext | undefined;
  try {
    say(
      `dashboard bench: ${N} Kustomizations, ${WINDOW_S} s CPU windows, ${DASHBOARDS} dashboards; load ${uptime()}`,
    );
    const seedStore = await openStore({ kind: 'sqlite', dataDir });
    const seedStart = performance.now();
    await seed(seedStore);
    await seedStore.close();
    say(`seeded in ${((performance.now() - seedStart) / 1000).toFixed(1)} s`);
    const started = await startEngine(dataDir);
    engine = started.child;
    const store = await openStore({ kind: 'sqlite', dataDir });
    // Let the engine's start settle (it lists every object once).
    await new Promise((r) => setTimeout(r, 5000));

    say(`phase 1: no dashboard open; load ${uptime()}`);
    const idleCpu = await cpuWindow(engine.pid!, store);

    context = await chromium.launchPersistentContext(join(work, 'chromium'), {
      executablePath: process.env.KEDGE_CHROMIUM ?? '/usr/bin/chromium',
      headless: true,
      // The bench's page expressions are text (this file has no DOM types); the dashboard's CSP forbids eval.
      bypassCSP: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    const renders: number[] = [];
    const pages: Page[] = [];
    for (let i = 0; i < DASHBOARDS; i++) {
      const { page, ms } = await firstRender(context, started.url);
      renders.push(ms);
      pages.push(page);
    }
    say(
      `first render of the ${N}-row list: ${renders.map((r) => r.toFixed(0)).join(', ')} ms; load ${uptime()}`,
    );

    // Live update: write, then wait until every open dashboard shows the new revision in the first row.
    const latencies: number[] = [];
    for (let i = 0; i < 10; i++) {
      const t = performance.now();
      const hex = await writeRevision(store);
      await Promise.all(
        pages.map((p) =>
          p.waitForFunction(
            `document.querySelector('.row[data-key="Kustomization/default/ks-0000"]')?.textContent?.includes('${hex}')`,
            undefined,
            { polling: 'raf', timeout: 10_000 },
          ),
        ),
      );
      latencies.push(performance.now() - t);
      await new Promise((r) => setTimeout(r, 300));
    }
    say(`write → on screen in all ${DASHBOARDS}: ${latencies.map((l) => l.toFixed(0)).join(', ')} ms`);

    say(`phase 2: ${DASHBOARDS} dashboards open; load ${uptime()}`);
    const openCpu = await cpuWindow(engine.pid!, store);
    await store.close();

    say('');
    say(`| figure | value |`);
    say(`|---|---|`);
    say(
      `| first render, ${N} rows (goto → rows drawn), median of ${DASHBOARDS} | ${median(renders).toFixed(0)} ms (min ${Math.min(...renders).toFixed(0)}, max ${Math.max(...renders).toFixed(0)}) |`,
    );
    say(
      `| status write → row changed in all ${DASHBOARDS} dashboards, median of 10 | ${median(latencies).toFixed(0)} ms (max ${Math.max(...latencies).toFixed(0)}) |`,
    );
    say(
      `| engine CPU, ${WINDOW_S} s at 1 write/s, no dashboard | ${idleCpu.toFixed(2)} s (${((idleCpu / WINDOW_S) * 100).toFixed(1)} % of a core) |`,
    );
    say(
      `| engine CPU, same, ${DASHBOARDS} dashboards open | ${openCpu.toFixed(2)} s (${((openCpu / WINDOW_S) * 100).toFixed(1)} % of a core) = ${(openCpu / Math.max(idleCpu, 0.01)).toFixed(2)}× |`,
    );
    say(`load at end: ${uptime()}`);
  } finally {
    await context?.close().catch(() => undefined);
    if (engine && engine.exitCode === null) {
      const exited = new Promise((r) => engine!.once('exit', r));
      engine.kill('SIGTERM');
      await exited;
    }
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
