import { resolve } from 'node:path';
import type { Command } from 'commander';
import { clusterComponents, componentNames, defaultDevClusterDir } from '../../devcluster/cluster-layout.ts';
import type { DevClusterStatus } from '../../devcluster/dev-cluster-status.ts';

const dirHelp =
  `cluster directory (default: ${defaultDevClusterDir().replace(process.env.HOME ?? '\0', '~')}, ` +
  'i.e. ${XDG_STATE_HOME:-~/.local/state}/kedge/dev-cluster)';

/**
 * Adds `dev cluster up|status|down` to `program`: a local cluster on 127.0.0.1 (etcd, kube-apiserver and,
 * unless `--nodes 0`, kube-controller-manager, kube-scheduler and kwok-simulated nodes), run by a detached
 * supervisor so that `up` returns. Errors are thrown for the program's top-level catch. The cluster code is
 * imported when a command runs.
 */
export function registerDevClusterCommands(program: Command): void {
  const dev =
    program.commands.find((c) => c.name() === 'dev') ??
    program.command('dev').description('tools for developing with kedge');
  const cluster = dev
    .command('cluster')
    .description(
      'a local Kubernetes cluster on 127.0.0.1: control plane built from Go modules, nodes simulated by kwok',
    );

  cluster
    .command('up')
    .description(
      'start the dev cluster in the background (building its binaries first if needed: minutes, once)',
    )
    .option('--dir <dir>', dirHelp)
    .option(
      '--nodes <n>',
      'simulated nodes; 0 runs only etcd and kube-apiserver (nothing runs pods)',
      parseNodes,
      1,
    )
    .action(async (options: { dir?: string; nodes: number }) => {
      const dir = clusterDir(options);
      const [{ readDevClusterStatus }, { locateControlPlaneBinaries }, { startBackgroundCluster }] =
        await Promise.all([
          import('../../devcluster/dev-cluster-status.ts'),
          import('../../devcluster/control-plane-binaries.ts'),
          import('../../devcluster/background-cluster.ts'),
        ]);
      const existing = await readDevClusterStatus(dir);
      if (existing.pids.owner !== undefined) return printAlreadyRunning(existing);
      const started = Date.now();
      const elapsed = (): string => `${((Date.now() - started) / 1000).toFixed(1)}s`;
      const binaries = await locateControlPlaneBinaries({
        nodes: options.nodes > 0,
        onProgress: (line) => process.stderr.write(`[${elapsed()}] ${line}\n`),
      });
      process.stderr.write(
        `[${elapsed()}] starting ${
          options.nodes > 0
            ? `etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok with ${options.nodes} node(s)`
            : 'etcd and kube-apiserver'
        } in ${dir}\n`,
      );
      const result = await startBackgroundCluster(dir, binaries, { nodes: options.nodes });
      if (!result.started) return printAlreadyRunning(result.status);
      process.stderr.write(`[${elapsed()}] ready\n`);
      process.stdout.write(`dev cluster running at ${result.status.server ?? '?'}\n`);
      printKubeconfig(result.status);
    });

  cluster
    .command('status')
    .description('say whether the dev cluster runs, with its server URL, kubeconfig, nodes and each process')
    .option('--dir <dir>', dirHelp)
    .option('--json', 'print the status as JSON')
    .action(async (options: { dir?: string; json?: boolean }) => {
      const { readDevClusterStatus } = await import('../../devcluster/dev-cluster-status.ts');
      const status = await readDevClusterStatus(clusterDir(options));
      if (options.json) return void process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
      process.stdout.write(
        `dev cluster in ${status.dir}: ${status.running ? 'running' : status.pids.owner ? status.phase : 'not running'}\n`,
      );
      if (status.server) process.stdout.write(`server: ${status.server}\n`);
      if (status.kubeconfigPath) process.stdout.write(`kubeconfig: ${status.kubeconfigPath}\n`);
      if (status.running) process.stdout.write(`nodes: ${status.nodes} (simulated by kwok)\n`);
      const pids = describePids(status);
      if (pids) process.stdout.write(`pids: ${pids}\n`);
      for (const line of describeMissing(status)) process.stdout.write(`${line}\n`);
      if (!status.running && status.error) process.stdout.write(`last run failed: ${status.error}\n`);
    });

  cluster
    .command('down')
    .description(
      'stop the dev cluster: every process ends, ports are freed, etcd data and kubeconfig are removed',
    )
    .option('--dir <dir>', dirHelp)
    .action(async (options: { dir?: string }) => {
      const dir = clusterDir(options);
      const { stopBackgroundCluster } = await import('../../devcluster/background-cluster.ts');
      const result = await stopBackgroundCluster(dir);
      process.stdout.write(
        result.wasRunning
          ? `stopped dev cluster in ${dir} (pids ${result.stoppedPids.join(', ')})\n`
          : `no dev cluster running in ${dir}\n`,
      );
    });
}

function clusterDir(options: { dir?: string }): string {
  return resolve(options.dir ?? defaultDevClusterDir());
}

function printAlreadyRunning(status: DevClusterStatus): void {
  process.stdout.write(
    `a dev cluster is already ${status.running ? 'running' : status.phase} in ${status.dir}` +
      `${status.server ? ` at ${status.server}` : ''} (supervisor pid ${status.pids.owner ?? '?'}); nothing started\n`,
  );
  printKubeconfig(status);
}

function printKubeconfig(status: DevClusterStatus): void {
  if (status.kubeconfigPath === undefined) return;
  process.stdout.write(
    `kubeconfig: ${status.kubeconfigPath}\nexport KUBECONFIG=${shellQuote(status.kubeconfigPath)}\n`,
  );
}

function parseNodes(value: string): number {
  const nodes = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(nodes))
    throw new Error(`--nodes must be a whole number (0 or more), got '${value}'`);
  return nodes;
}

function describePids(status: DevClusterStatus): string {
  const { owner } = status.pids;
  const components = clusterComponents
    .filter((c) => status.pids[c] !== undefined)
    .map((c) => `${componentNames[c]} ${status.pids[c]}`);
  return [...(owner ? [`supervisor ${owner}`] : []), ...components].join(', ');
}

/** One line per component that should run in a live cluster but does not: a crash shows, never hides. */
function describeMissing(status: DevClusterStatus): string[] {
  if (status.pids.owner === undefined) return [];
  const expected = status.nodes > 0 ? clusterComponents : clusterComponents.slice(0, 2);
  return expected
    .filter((c) => status.pids[c] === undefined && status.phase === 'ready')
    .map((c) => `not running: ${componentNames[c]} (see ${status.dir}/logs/${componentNames[c]}.log)`);
}

function shellQuote(value: string): string {
  return /^[\w./:@%+=,-]+$/.test(value) ? value : `'${value.replaceAll("'", `'\\''`)}'`;
}
