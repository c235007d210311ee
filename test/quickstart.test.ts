import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually } from './harness/eventually.ts';
import { KEDGE_CLI } from './harness/kedge-cli.ts';


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
    const up = spawn(process.execPath, [...KEDGE_CLI, 'up', '--storage-addr', ':0', '--metrics-addr', ':0', '--receiver-addr', ':0'], {
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
      await eventually(() => output.includes('✔ kustomization default/hello: Applied revision'), { timeoutMs: 90_000, what: `example applied:\n${output}` });
      const greeting = await eventually(async () => (await fetch('http://127.0.0.1:3000/')).text(), { what: 'the app answers' });
      expect(greeting).toMatch(/^hello from kedge/);

      const repo = join(work, '.kedge/example/hello');
      const config = join(repo, 'deploy/config.yaml');
      writeFileSync(config, readFileSync(config, 'utf8').replace('GREETING: hello', 'GREETING: howdy'));
      execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qam', 'say howdy'], { cwd: repo });
      execFileSync(process.execPath, [...KEDGE_CLI, 'reconcile', 'kustomization', 'hello', '--with-source'], { cwd: work, env });

      await eventually(async () => (await (await fetch('http://127.0.0.1:3000/')).text()).startsWith('howdy'), {
        timeoutMs: 60_000,
        what: 'the new greeting served',
      });
      const apps = execFileSync(process.execPath, [...KEDGE_CLI, 'get', 'apps', '-o', 'json'], { cwd: work, env, encoding: 'utf8' });
      const app = JSON.parse(apps) as { items: Array<{ status: { replicaStatuses: Array<{ pid: number }> } }> };
      pids = app.items[0]!.status.replicaStatuses.map((r) => r.pid);
      expect(pids).toHaveLength(2);
    } finally {
      up.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    // Stopping Kedge stops its apps.
    expect(pids.filter(processAlive)).toEqual([]);
  });
});
