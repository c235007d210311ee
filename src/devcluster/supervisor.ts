import { clusterLayout } from './cluster-layout.ts';
import { writeClusterState } from './cluster-state.ts';
import { controlPlaneBinariesIn } from './control-plane-binaries.ts';
import { startDevCluster, stopStaleProcesses, type DevCluster } from './dev-cluster.ts';

const stopSignals: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];

/**
 * The body of the detached supervisor process behind `kedge dev cluster up`: starts the cluster in `dir`
 * (with `nodes` simulated nodes, see `startDevCluster`) and keeps its processes running until SIGTERM,
 * SIGINT or SIGHUP, then stops them all and cleans up (exit code 0). A stop signal during start-up ends the
 * half-started processes at once. When any of them dies on its own, the others are stopped, `state.json`
 * records phase `failed` naming the one that died, and the exit code is 1. Progress goes to stdout (the
 * supervisor log).
 */
export async function runSupervisor(dir: string, binariesDir: string, nodes = 0): Promise<number> {
  const layout = clusterLayout(dir);
  const binaries = controlPlaneBinariesIn(binariesDir);
  let signalled: NodeJS.Signals | undefined;
  let cluster: DevCluster | undefined;
  const stopped = new Promise<NodeJS.Signals>((resolve) => {
    for (const signal of stopSignals) {
      process.on(signal, () => {
        signalled = signal;
        log(`received ${signal}, stopping`);
        // While starting there is no DevCluster yet: end what is already running so the start fails fast.
        if (cluster === undefined) void stopStaleProcesses(layout);
        resolve(signal);
      });
    }
  });
  try {
    cluster = await startDevCluster({ dir, binaries, nodes, onProgress: log });
  } catch (error) {
    log(`start failed: ${String(error)}`);
    return signalled === undefined ? 1 : 0;
  }
  log(`ready: ${cluster.server}, kubeconfig ${cluster.kubeconfigPath}`);
  if (signalled !== undefined) {
    await cluster.stop();
    return 0;
  }
  const outcome = await Promise.race([
    stopped.then((signal) => ({ signal })),
    cluster.exited.then((exit) => ({ exit })),
  ]);
  await cluster.stop();
  if ('signal' in outcome) {
    log('stopped');
    return 0;
  }
  const error = `${outcome.exit.name} exited on its own (code ${outcome.exit.code}, signal ${outcome.exit.signal}); see ${layout.logs}`;
  log(error);
  await writeClusterState(layout.state, {
    phase: 'failed',
    startedAt: new Date().toISOString(),
    nodes,
    error,
  });
  return 1;
}

function log(line: string): void {
  process.stdout.write(`${new Date().toISOString()} ${line}\n`);
}
