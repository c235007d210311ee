/**
 * Push-to-fetched latency: a commit pushed over smart HTTP, then a GitHub-style webhook to a Receiver, until
 * the GitRepository's artifact names the commit; compared with poll-based detection at a 1-minute interval.
 * Prints a markdown table on stdout, progress on stderr.
 * Usage: node --import tsx bench/notify/run.ts [--pushes 20] [--interval 1m]
 */
import { execFile, execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseDuration } from '../../src/api/duration.ts';
import { startEngine } from '../../src/engine.ts';
import { createLogger } from '../../src/runtime/logger.ts';
import { createRepo } from '../../test/harness/git-repo.ts';
import { startHttpGitServer } from '../../test/harness/git-servers.ts';

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
};
const PUSHES = Number(arg('--pushes', '20'));
const INTERVAL = arg('--interval', '1m');
const TOKEN = 'bench-webhook-token';
const say = (line: string) => process.stderr.write(`[bench] ${line}\n`);
const run = promisify(execFile);

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'kedge-bench-notify-'));
  const work = createRepo({ root, name: 'work', files: { 'deploy/config.yaml': 'v: 0\n' } });
  execFileSync('git', ['clone', '-q', '--bare', work.dir, join(root, 'app.git')]);
  execFileSync('git', ['config', 'http.receivepack', 'true'], { cwd: join(root, 'app.git') });
  const server = await startHttpGitServer({ root });
  const any = { host: '127.0.0.1', port: 0 };
  const engine = await startEngine({
    dataDir: join(root, 'data'),
    storageAddress: any,
    metricsAddress: any,
    receiverAddress: any,
    log: createLogger({ level: 'silent' }),
  });
  try {
    const url = server.url('app.git');
    const ref = { kind: 'GitRepository', namespace: 'default', name: 'app' };
    await engine.store.apply({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'hook', namespace: 'default' }, stringData: { token: TOKEN } });
    await engine.store.apply({
      apiVersion: 'source.toolkit.fluxcd.io/v1',
      kind: 'GitRepository',
      metadata: { name: 'app', namespace: 'default' },
      spec: { url, interval: INTERVAL, ref: { branch: 'main' } },
    });
    await engine.store.apply({
      apiVersion: 'notification.toolkit.fluxcd.io/v1',
      kind: 'Receiver',
      metadata: { name: 'github', namespace: 'default' },
      spec: { type: 'github', events: ['push'], secretRef: { name: 'hook' }, resources: [{ kind: 'GitRepository', name: 'app' }] },
    });
    const revision = async () => ((await engine.store.get(ref))?.status as { artifact?: { revision: string } } | undefined)?.artifact?.revision;
    const path = async () => ((await engine.store.get({ ...ref, kind: 'Receiver', name: 'github' }))?.status as { webhookPath?: string } | undefined)?.webhookPath;
    const waitFor = async (check: () => Promise<boolean>) => {
      while (!(await check())) await new Promise((r) => setTimeout(r, 5));
    };
    await waitFor(async () => (await revision()) !== undefined && (await path()) !== undefined);
    const hook = `${engine.receiverUrl}${await path()}`;

    const webhook: number[] = [];
    const pushTimes: number[] = [];
    for (let i = 1; i <= PUSHES; i++) {
      const commit = work.commit({ 'deploy/config.yaml': `v: ${i}\n` }, { message: `change ${i}` });
      const t0 = performance.now();
      await run('git', ['push', '-q', url, 'main'], { cwd: work.dir });
      const pushed = performance.now();
      const body = JSON.stringify({ ref: 'refs/heads/main', after: commit });
      const signature = `sha256=${createHmac('sha256', TOKEN).update(body).digest('hex')}`;
      const response = await fetch(hook, { method: 'POST', body, headers: { 'x-github-event': 'push', 'x-hub-signature-256': signature } });
      if (response.status !== 200) throw new Error(`webhook answered ${response.status}`);
      await waitFor(async () => (await revision()) === `main@sha1:${commit}`);
      const fetched = performance.now();
      // Latency counts from the end of the push (when GitHub would send the webhook) to the artifact.
      webhook.push(fetched - pushed);
      pushTimes.push(pushed - t0);
      say(`push ${i}/${PUSHES}: ${(fetched - pushed).toFixed(0)} ms`);
    }
    const intervalMs = parseDuration(INTERVAL);
    // Poll-based detection: the push lands uniformly within the interval (±5 % jitter ignored), so the wait for
    // the next poll is U(0, interval); the fetch after it costs what the webhook path measured (the webhook
    // adds one HTTP request, under a millisecond here, so this slightly flatters polling).
    const poll = (p: number) => (p / 100) * intervalMs + percentile(webhook, p);
    const row = (name: string, p50: number, p95: number) => `| ${name} | ${(p50 / 1000).toFixed(3)} s | ${(p95 / 1000).toFixed(3)} s |`;
    process.stdout.write(
      [
        `Push-to-fetched latency, ${PUSHES} pushes (machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version})`,
        '',
        '| detection | p50 | p95 |',
        '|---|---|---|',
        row('webhook (Receiver, measured)', percentile(webhook, 50), percentile(webhook, 95)),
        row(`poll at ${INTERVAL} (interval·p + measured fetch)`, poll(50), poll(95)),
        '',
        `git push itself: p50 ${percentile(pushTimes, 50).toFixed(0)} ms, p95 ${percentile(pushTimes, 95).toFixed(0)} ms (not counted).`,
        '',
      ].join('\n'),
    );
  } finally {
    await engine.stop();
    await server.stop();
    rmSync(root, { recursive: true, force: true });
  }
}

await main();
