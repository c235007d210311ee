import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig, VersionApi } from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DevClusterStatus } from '../src/devcluster/dev-cluster-status.ts';
import { isLoopbackPortOpen } from '../src/devcluster/free-port.ts';
import { isProcessAlive } from '../src/host/process-identity.ts';
import { eventually } from './harness/eventually.ts';
import { measureStartMs, startsBudgetMs } from './harness/budget.ts';
import { execFileTracked } from './harness/tracked-process.ts';

const entry = join(import.meta.dirname, 'harness', 'dev-cluster-cli.ts');

/** One start of the dev-cluster CLI here and now (see test/harness/budget.ts). */
const cliStartMs = await measureStartMs(['--import', 'tsx', entry, '--help']);
/**
 * What each command waits for beyond its start: `up` for the cluster to be ready (the CLI gives it 180 s),
 * `down` for the supervisor to stop (30 s grace, then SIGKILL) and for etcd and kube-apiserver left behind
 * (10 s grace each), 5 s to see each SIGKILL work.
 */
const waitsMs: Record<string, number> = { up: 180_000, down: 35_000 + 2 * 15_000, status: 0 };
const commandBudgetMs = (command: string): number => startsBudgetMs(1, cliStartMs, waitsMs[command]);
/** A test runs at most two `up`, two `down` and ten `status`. */
const testBudgetMs = 2 * commandBudgetMs('up') + 2 * commandBudgetMs('down') + 10 * commandBudgetMs('status');

let root: string;
let dir: string;

async function kedge(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return execFileTracked(process.execPath, ['--import', 'tsx', entry, 'dev', 'cluster', ...args, '--dir', dir], { timeoutMs: commandBudgetMs(args[0]!) });
}

async function status(): Promise<DevClusterStatus> {
  return JSON.parse((await kedge('status', '--json')).stdout) as DevClusterStatus;
}

function processIds(s: DevClusterStatus): number[] {
  return [s.pids.owner, s.pids.etcd, s.pids.kubeApiserver].filter((pid): pid is number => pid !== undefined);
}

function ports(s: DevClusterStatus): number[] {
  return s.ports ? [s.ports.kubeApiserver, s.ports.etcdClient, s.ports.etcdPeer] : [];
}

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'kedge-dev-cluster-cli-'));
  dir = join(root, 'cluster');
});

afterEach(async () => {
  await kedge('down').catch(() => undefined);
  await rm(root, { recursive: true, force: true });
}, commandBudgetMs('down'));

// Each test starts and stops whole clusters through the CLI; on a loaded 2-core machine that takes a while.
describe('kedge dev cluster', { timeout: testBudgetMs }, () => {
  it('up starts a usable cluster in the background; down twice leaves no process or port behind', async () => {
    const up = await kedge('up');
    expect(up.stdout).toContain(`export KUBECONFIG=${join(dir, 'kubeconfig')}`);

    const running = await status();
    expect(running).toMatchObject({ running: true, phase: 'ready', kubeconfigPath: join(dir, 'kubeconfig') });
    expect(processIds(running)).toHaveLength(3);
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(join(dir, 'kubeconfig'));
    expect((await kubeConfig.makeApiClient(VersionApi).getCode()).gitVersion).toBe('v1.36.3');
    expect((await kedge('status')).stdout).toMatch(/: running\nserver: https:\/\/127\.0\.0\.1:\d+\nkubeconfig: .*\npids: supervisor \d+, etcd \d+, kube-apiserver \d+\n/);

    expect((await kedge('down')).stdout).toContain(`stopped dev cluster in ${dir}`);
    expect((await kedge('down')).stdout).toBe(`no dev cluster running in ${dir}\n`);
    expect(processIds(running).filter(isProcessAlive)).toEqual([]);
    for (const port of ports(running)) expect(await isLoopbackPortOpen(port), `port ${port}`).toBe(false);
    expect(await status()).toMatchObject({ running: false, pids: {} });
    expect((await kedge('status')).stdout).toBe(`dev cluster in ${dir}: not running\n`);
  });

  it('a second up while one runs says where it runs and starts nothing', async () => {
    await kedge('up');
    const first = await status();

    const again = await kedge('up');
    expect(again.stdout).toContain(`a dev cluster is already running in ${dir} at ${first.server ?? ''}`);
    expect(again.stdout).toContain(`export KUBECONFIG=${join(dir, 'kubeconfig')}`);
    expect((await status()).pids).toEqual(first.pids);
  });

  it('up after a crashed supervisor ends the processes it left and starts afresh', async () => {
    await kedge('up');
    const crashed = await status();
    process.kill(crashed.pids.owner ?? 0, 'SIGKILL');
    await eventually(async () => !(await status()).running, { what: 'the cluster to report not running', timeoutMs: 2 * commandBudgetMs('status') });

    await kedge('up');
    const fresh = await status();
    expect(fresh.running).toBe(true);
    expect([crashed.pids.etcd, crashed.pids.kubeApiserver].filter((pid) => pid !== undefined && isProcessAlive(pid))).toEqual([]);
    expect(fresh.pids.etcd).not.toBe(crashed.pids.etcd);
  });
});
