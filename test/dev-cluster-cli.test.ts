import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig, VersionApi } from '@kubernetes/client-node';
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
/** A test runs at most two `up`, two `down` and ten `status` (the polls of `eventually` included). */
const testBudgetMs = 2 * commandBudgetMs('up') + 2 * commandBudgetMs('down') + 10 * commandBudgetMs('status');

let root: string;
let dir: string;

async function kedge(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return execFileTracked(
    process.execPath,
    ['--import', 'tsx', entry, 'dev', 'cluster', ...args, '--dir', dir],
    { timeoutMs: commandBudgetMs(args[0]!) },
  );
}

async function status(): Promise<DevClusterStatus> {
  return JSON.parse((await kedge('status', '--json')).stdout) as DevClusterStatus;
}

function processIds(s: DevClusterStatus): number[] {
  return Object.values(s.pids).filter((pid): pid is number => pid !== undefined);
}

function ports(s: DevClusterStatus): number[] {
  return Object.values(s.ports ?? {}).filter((port): port is number => port !== undefined);
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
  it('up starts a cluster with a node in the background; down twice leaves no process or port behind', async () => {
    const up = await kedge('up');
    expect(up.stdout).toContain(`export KUBECONFIG=${join(dir, 'kubeconfig')}`);

    const running = await status();
    expect(running).toMatchObject({
      running: true,
      phase: 'ready',
      kubeconfigPath: join(dir, 'kubeconfig'),
      nodes: 1,
    });
    expect(Object.keys(running.pids).sort()).toEqual([
      'etcd',
      'kubeApiserver',
      'kubeControllerManager',
      'kubeScheduler',
      'kwok',
      'owner',
    ]);
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(join(dir, 'kubeconfig'));
    expect((await kubeConfig.makeApiClient(VersionApi).getCode()).gitVersion).toBe('v1.36.3');
    const nodes = (await kubeConfig.makeApiClient(CoreV1Api).listNode()).items;
    expect(
      nodes.map((n) => [n.metadata?.name, n.status?.conditions?.find((c) => c.type === 'Ready')?.status]),
    ).toEqual([['kedge-node-0', 'True']]);
    expect((await kedge('status')).stdout).toMatch(
      new RegExp(
        ': running\nserver: https://127\\.0\\.0\\.1:\\d+\nkubeconfig: .*\nnodes: 1 \\(simulated by kwok\\)\n' +
          'pids: supervisor \\d+, etcd \\d+, kube-apiserver \\d+, kube-controller-manager \\d+, kube-scheduler \\d+, kwok \\d+\n$',
      ),
    );

    expect((await kedge('down')).stdout).toContain(`stopped dev cluster in ${dir}`);
    expect((await kedge('down')).stdout).toBe(`no dev cluster running in ${dir}\n`);
    expect(processIds(running).filter(isProcessAlive)).toEqual([]);
    for (const port of ports(running)) expect(await isLoopbackPortOpen(port), `port ${port}`).toBe(false);
    expect(await status()).toMatchObject({ running: false, pids: {} });
    expect((await kedge('status')).stdout).toBe(`dev cluster in ${dir}: not running\n`);
  });

  it('up --nodes 0 runs only etcd and kube-apiserver; a second up while one runs says where it runs and starts nothing', async () => {
    await kedge('up', '--nodes', '0');
    const first = await status();
    expect(Object.keys(first.pids).sort()).toEqual(['etcd', 'kubeApiserver', 'owner']);
    expect(first.nodes).toBe(0);

    const again = await kedge('up');
    expect(again.stdout).toContain(`a dev cluster is already running in ${dir} at ${first.server ?? ''}`);
    expect(again.stdout).toContain(`export KUBECONFIG=${join(dir, 'kubeconfig')}`);
    expect((await status()).pids).toEqual(first.pids);
  });

  it('up after a crashed supervisor ends the processes it left and starts afresh', async () => {
    await kedge('up');
    const crashed = await status();
    process.kill(crashed.pids.owner ?? 0, 'SIGKILL');
    await eventually(async () => !(await status()).running, {
      what: 'the cluster to report not running',
      timeoutMs: 2 * commandBudgetMs('status'),
    });

    await kedge('up');
    const fresh = await status();
    expect(fresh.running).toBe(true);
    const { owner: _owner, ...leftBehind } = crashed.pids;
    expect(Object.values(leftBehind).filter((pid) => pid !== undefined && isProcessAlive(pid))).toEqual([]);
    expect(fresh.pids.etcd).not.toBe(crashed.pids.etcd);
  });

  it('a component that dies is reported, and the rest of the cluster is stopped', async () => {
    await kedge('up');
    const before = await status();
    process.kill(before.pids.kwok ?? 0, 'SIGKILL');

    const failed = await eventually(
      async () => {
        const now = await status();
        return now.phase === 'failed' ? now : undefined;
      },
      { what: 'the cluster to report the dead kwok', timeoutMs: commandBudgetMs('down') },
    );
    expect(failed.error).toMatch(/^kwok exited on its own \(code null, signal SIGKILL\)/);
    expect(failed.running).toBe(false);
    // The supervisor stopped the others before recording the failure, and then ends itself.
    const { owner, ...components } = before.pids;
    expect(Object.values(components).filter((pid) => pid !== undefined && isProcessAlive(pid))).toEqual([]);
    await eventually(() => !isProcessAlive(owner ?? 0), {
      what: 'the supervisor to exit',
      timeoutMs: commandBudgetMs('down'),
    });
    expect((await kedge('status')).stdout).toContain('last run failed: kwok exited on its own');
  });
});
