import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { packagePath } from '../package-paths.ts';
import { DevClusterError } from './dev-cluster-error.ts';

/**
 * Absolute paths of the control-plane binaries in one directory. The node components (controller-manager,
 * scheduler, kwok and kwok's stages) exist there only once a cluster with nodes was asked for.
 */
export interface ControlPlaneBinaries {
  dir: string;
  etcd: string;
  kubeApiserver: string;
  kubeControllerManager: string;
  kubeScheduler: string;
  kwok: string;
  /** kwok's default node and pod stages (and its container-failure chaos stage), copied from its module. */
  kwokStages: string;
}

/** The build script; its interface (prints the binaries' directory on stdout) is the contract used here. */
export const buildScriptPath = packagePath('scripts', 'build-control-plane.sh');

/** The paths of every binary in `dir`. Pure: checks nothing. */
export function controlPlaneBinariesIn(dir: string): ControlPlaneBinaries {
  return {
    dir,
    etcd: join(dir, 'etcd'),
    kubeApiserver: join(dir, 'kube-apiserver'),
    kubeControllerManager: join(dir, 'kube-controller-manager'),
    kubeScheduler: join(dir, 'kube-scheduler'),
    kwok: join(dir, 'kwok'),
    kwokStages: join(dir, 'kwok-stages.yaml'),
  };
}

/**
 * Finds the control-plane binaries through `scripts/build-control-plane.sh`: `KEDGE_CONTROL_PLANE_DIR` when
 * set (checked, never built), else the cache, else a build from Go modules (minutes; each progress line of
 * the script is passed to `onProgress` as it comes). kube-apiserver and etcd always; with `nodes`, also
 * kube-controller-manager, kube-scheduler and kwok, built only then (lazily: a cluster without nodes never
 * waits for them). Throws `DevClusterError` (BinariesUnavailable) with the script's last lines when it fails.
 */
export async function locateControlPlaneBinaries({
  onProgress,
  env = process.env,
  nodes = false,
}: {
  onProgress?: (line: string) => void;
  env?: NodeJS.ProcessEnv;
  nodes?: boolean;
} = {}): Promise<ControlPlaneBinaries> {
  const child = spawn('bash', [buildScriptPath, ...(nodes ? ['--nodes'] : [])], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdout: string[] = [];
  const stderr: string[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => stdout.push(line));
  createInterface({ input: child.stderr }).on('line', (line) => {
    stderr.push(line);
    onProgress?.(line);
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  }).catch((error: unknown) => {
    throw new DevClusterError('BinariesUnavailable', `cannot run ${buildScriptPath}: ${String(error)}`, {
      cause: error,
    });
  });
  const dir = stdout.at(-1)?.trim();
  if (code !== 0 || !dir) {
    throw new DevClusterError(
      'BinariesUnavailable',
      `building the control plane with ${buildScriptPath} failed (exit ${code}): ${stderr.slice(-10).join('\n')}`,
    );
  }
  return controlPlaneBinariesIn(dir);
}
