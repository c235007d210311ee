/**
 * Time from a bad canary's first errors to all traffic on stable. A 2-replica App (v1) behind its expose
 * proxy under steady load (`--clients` keep-alive clients sending requests back to back); v2 is applied as a
 * canary (`setWeight: 50`, analysis every `--interval`, `failureLimit` 2, successRate min 99) that answers
 * 500 on every 5th request. Measured per run, from the first 500 a client receives:
 *   - to the App showing Ready=False CanaryFailed (the decision);
 *   - to the last answer from v2 (all traffic on stable from then on).
 * The floor is failureLimit × interval after the canary's first analysis window opens. Repeated `--runs`
 * times on the same engine (each with a fresh App). Prints markdown on stdout, progress on stderr.
 * Usage: node --import tsx bench/host/canary-rollback.ts [--runs 3] [--interval 1s] [--clients 4]
 */
import { loadavg, cpus } from 'node:os';
import { parseDuration } from '../../src/api/duration.ts';
import {
  appObject,
  cleanupDataDir,
  freePort,
  getApp,
  newDataDir,
  packApp,
  readyApp,
  startTestEngine,
} from '../../test/fixtures/host/app-harness.ts';
import { canaryScript, steadyLoad } from '../../test/fixtures/host/canary-load.ts';

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
};
const RUNS = Number(arg('--runs', '3'));
const INTERVAL = arg('--interval', '1s');
const CLIENTS = Number(arg('--clients', '4'));
const FAILURE_LIMIT = 2;
const say = (line: string) => process.stderr.write(`[bench] ${line}\n`);

async function until<T>(
  check: () => Promise<T | false> | T | false,
  what: string,
  timeoutMs = 120_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const dataDir = await newDataDir();
const engine = await startTestEngine(dataDir);
const rows: string[] = [];
const loadAtStart = loadavg();
try {
  for (let run = 1; run <= RUNS; run++) {
    const name = `web${run}`;
    const expose = await freePort();
    const spec = { replicas: 2, expose: { port: expose } };
    const v1 = await packApp(dataDir, name, { 'server.js': canaryScript('v1') });
    await engine.store.apply(appObject(name, v1, spec));
    await until(() => readyApp(engine.store, name, v1.revision, 2), 'v1 ready');
    const load = steadyLoad(expose, CLIENTS);
    const v2 = await packApp(dataDir, name, { 'server.js': canaryScript('v2', { failEvery: 5 }) });
    // The last v2 answer: the moment the count of v2 answers last grew.
    let lastV2 = 0;
    let v2Count = 0;
    const counter = setInterval(() => {
      const now = load.byVersion.get('v2') ?? 0;
      if (now !== v2Count) {
        v2Count = now;
        lastV2 = Date.now();
      }
    }, 1);
    await engine.store.apply(
      appObject(name, v2, {
        ...spec,
        strategy: {
          maxSurge: 1,
          maxUnavailable: 0,
          canary: {
            steps: [{ setWeight: 50 }, { pause: {} }],
            analysis: { interval: INTERVAL, failureLimit: FAILURE_LIMIT, successRate: { min: 99 } },
          },
        },
      }),
    );
    const firstError = await until(
      () => load.failures.find((f) => f.version === 'v2')?.at ?? false,
      'first canary error',
    );
    const failedAt = await until(async () => {
      const app = await getApp(engine.store, name);
      return app.status?.conditions?.find((c) => c.type === 'Ready')?.reason === 'CanaryFailed' && Date.now();
    }, 'CanaryFailed');
    // All traffic on stable: no v2 answer for 2 s after the rollback decision.
    await until(() => Date.now() - Math.max(lastV2, failedAt) > 2_000 && true, 'v2 silent');
    clearInterval(counter);
    await load.stop();
    const stableFailures = load.failures.filter((f) => f.version !== 'v2').length;
    const decision = failedAt - firstError;
    const drained = lastV2 - firstError;
    say(
      `run ${run}: decision ${decision} ms, last v2 answer ${drained} ms after the first error; stable failures ${stableFailures}`,
    );
    rows.push(
      `| ${run} | ${decision} | ${drained} | ${load.failures.length - stableFailures} | ${stableFailures} | ${load.total} | ${loadavg()[0]!.toFixed(1)} |`,
    );
    await engine.store.delete({ kind: 'App', namespace: 'default', name });
  }
} finally {
  await engine.stop();
  await cleanupDataDir(dataDir);
}
const floor = FAILURE_LIMIT * parseDuration(INTERVAL);
console.log(`## Canary rollback ${new Date().toISOString()}`);
console.log('');
console.log(
  `${cpus().length} CPUs, Node ${process.version}; 2 stable replicas + 1 canary at weight 50, 500 on every 5th canary answer; ` +
    `${CLIENTS} keep-alive clients back to back; analysis interval ${INTERVAL}, failureLimit ${FAILURE_LIMIT} (floor ${floor} ms after the first analysis window opens); ` +
    `load average ${loadAtStart.map((l) => l.toFixed(1)).join(' ')} at start, ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')} at end.`,
);
console.log('');
console.log(
  '| run | first error → CanaryFailed (ms) | first error → last v2 answer (ms) | canary 500s seen | stable-side failures | requests |  load |',
);
console.log('|---|---|---|---|---|---|---|');
for (const row of rows) console.log(row);
