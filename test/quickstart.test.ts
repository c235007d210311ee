import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually } from './harness/eventually.ts';
import { measureStartMs, startsBudgetMs } from './harness/budget.ts';
import { execFileTracked, spawnTracked } from './harness/tracked-process.ts';
import { KEDGE_CLI } from './harness/kedge-cli.ts';


/** One CLI start here and now (see test/harness/budget.ts); the engine and each command below is one. */
const cliStartMs = await measureStartMs([...KEDGE_CLI, '--version']);
/** Applying the example: the engine's start, then the example's repository, fetch, apply and a two-replica rollout. */
const appliedBudgetMs = startsBudgetMs(1, cliStartMs, 90_000);
/** A reconcile with its source, then a rolling update of two replicas. */
const rolledBudgetMs = startsBudgetMs(1, cliStartMs, 60_000);
/** A command that reads the store. */
const commandBudgetMs = startsBudgetMs(1, cliStartMs);

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The README's walkthrough, as a user runs it: `kedge up` on the bundled example, curl, commit, rollout. */
describe('quick start', () => {
  const work = mkdtempSync(join(tmpdir(), 'kedge-quickstart-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('runs the bundled example app on this host and rolls out a committed change', async () => {
    const env = { ...process.env, NO_COLOR: '1' };
    const up = spawnTracked(process.execPath, [...KEDGE_CLI, 'up', '--storage-addr', ':0', '--metrics-addr', ':0', '--receiver-addr', ':0', '--web-addr', ':0'], {
      cwd: work,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    up.stdout.on('data', (d: Buffer) => (output += d.toString()));
    up.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((done) => up.once('exit', (code) => done(code)));
    let pids: number[] = [];
    try {
      await eventually(() => output.includes('✔ kustomization default/hello: Applied revision'), { timeoutMs: appliedBudgetMs, what: `example applied:\n${output}` });
      const greeting = await eventually(async () => (await fetch('http://127.0.0.1:3000/')).text(), { what: 'the app answers' });
      expect(greeting).toMatch(/^hello from kedge/);

      const repo = join(work, '.kedge/example/hello');
      const config = join(repo, 'deploy/config.yaml');
      writeFileSync(config, readFileSync(config, 'utf8').replace('GREETING: hello', 'GREETING: howdy'));
      execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qam', 'say howdy'], { cwd: repo });
      await execFileTracked(process.execPath, [...KEDGE_CLI, 'reconcile', 'kustomization', 'hello', '--with-source'], { cwd: work, env, timeoutMs: rolledBudgetMs });

      await eventually(async () => (await (await fetch('http://127.0.0.1:3000/')).text()).startsWith('howdy'), {
        timeoutMs: rolledBudgetMs,
        what: 'the new greeting served',
      });
      const apps = (await execFileTracked(process.execPath, [...KEDGE_CLI, 'get', 'apps', '-o', 'json'], { cwd: work, env, timeoutMs: commandBudgetMs })).stdout;
      const app = JSON.parse(apps) as { items: Array<{ status: { replicaStatuses: Array<{ pid: number }> } }> };
      pids = app.items[0]!.status.replicaStatuses.map((r) => r.pid);
      expect(pids).toHaveLength(2);
    } finally {
      up.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    // Stopping Kedge stops its apps.
    expect(pids.filter(processAlive)).toEqual([]);
    // The steps' own budgets; the engine's shutdown takes less than a command.
  }, appliedBudgetMs + 3 * rolledBudgetMs + 2 * commandBudgetMs);
});
