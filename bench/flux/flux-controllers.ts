import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Flux's source-controller and kustomize-controller (built from Go modules by build-flux-controllers.sh beside
 * this file, cached in ~/.cache/flux-bench) as processes against a kube-apiserver. Bench-only.
 */

export const fluxCache = process.env['FLUX_BENCH_CACHE'] ?? join(homedir(), '.cache', 'flux-bench');
export const fluxBin = (name: 'source-controller' | 'kustomize-controller'): string =>
  join(fluxCache, 'bin', name);
export const fluxCrds = join(fluxCache, 'crds');

const buildScript = fileURLToPath(new URL('./build-flux-controllers.sh', import.meta.url));

/** Builds the controllers when a binary is missing (minutes, cold; prints the build's output on stderr). */
export function ensureFluxControllers(): void {
  const crdsCopied = existsSync(fluxCrds) && readdirSync(fluxCrds).some((f) => f.endsWith('.yaml'));
  if (existsSync(fluxBin('source-controller')) && existsSync(fluxBin('kustomize-controller')) && crdsCopied)
    return;
  process.stderr.write(`[bench] building Flux's controllers with ${buildScript} (cached in ${fluxCache})\n`);
  execFileSync('bash', [buildScript], { stdio: ['ignore', 2, 2], env: { ...process.env, CACHE: fluxCache } });
}

/** The running pair. */
export interface FluxControllers {
  pids: number[];
  /** kustomize-controller's metrics endpoint (`http://127.0.0.1:P`). */
  metricsUrl: string;
  /** Both health endpoints answer `/readyz`. */
  ready(): Promise<boolean>;
  stop(): Promise<void>;
}

export interface FluxPorts {
  sourceMetrics: number;
  sourceHealth: number;
  storage: number;
  kustomizeMetrics: number;
  kustomizeHealth: number;
}

/** Starts both controllers (leader election off, all namespaces, default concurrency 4); logs go to `logDir`. */
export function startFluxControllers(opts: {
  kubeconfig: string;
  storageDir: string;
  logDir: string;
  ports: FluxPorts;
  concurrency?: number;
}): FluxControllers {
  mkdirSync(opts.storageDir, { recursive: true });
  mkdirSync(opts.logDir, { recursive: true });
  const p = opts.ports;
  const common = ['--enable-leader-election=false', '--watch-all-namespaces'];
  if (opts.concurrency !== undefined) common.push(`--concurrent=${opts.concurrency}`);
  const start = (name: 'source-controller' | 'kustomize-controller', args: string[]): ChildProcess => {
    const log = openSync(join(opts.logDir, `${name}.log`), 'a');
    const child = spawn(fluxBin(name), [...common, ...args], {
      stdio: ['ignore', log, log],
      // KUBECONFIG, not --kubeconfig: neither controller has that flag (controller-runtime reads the variable).
      env: { ...process.env, KUBECONFIG: opts.kubeconfig, RUNTIME_NAMESPACE: 'flux-system' },
    });
    if (child.pid === undefined) throw new Error(`could not start ${name}`);
    return child;
  };
  const source = start('source-controller', [
    `--metrics-addr=127.0.0.1:${p.sourceMetrics}`,
    `--health-addr=127.0.0.1:${p.sourceHealth}`,
    `--storage-path=${opts.storageDir}`,
    `--storage-addr=127.0.0.1:${p.storage}`,
    `--storage-adv-addr=127.0.0.1:${p.storage}`,
  ]);
  const kustomize = start('kustomize-controller', [
    `--metrics-addr=127.0.0.1:${p.kustomizeMetrics}`,
    `--health-addr=127.0.0.1:${p.kustomizeHealth}`,
  ]);
  const children = [source, kustomize];
  const ok = (port: number) =>
    fetch(`http://127.0.0.1:${port}/readyz`)
      .then((r) => r.ok)
      .catch(() => false);
  return {
    pids: children.map((c) => c.pid!),
    metricsUrl: `http://127.0.0.1:${p.kustomizeMetrics}`,
    ready: async () => (await ok(p.sourceHealth)) && (await ok(p.kustomizeHealth)),
    async stop() {
      await Promise.all(
        children.map(async (child) => {
          if (child.exitCode !== null || child.signalCode !== null) return;
          const exited = new Promise((resolve) => child.once('exit', resolve));
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
          await exited;
          clearTimeout(timer);
        }),
      );
    },
  };
}
