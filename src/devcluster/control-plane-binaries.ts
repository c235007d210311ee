import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { packagePath } from '../package-paths.ts';
import { DevClusterError } from './dev-cluster-error.ts';

/** Absolute paths of the two control-plane binaries. */
export interface ControlPlaneBinaries {
  dir: string;
  etcd: string;
  kubeApiserver: string;
}

/** The build script; its interface (prints the binaries' directory on stdout) is the contract used here. */
export const buildScriptPath = packagePath('scripts', 'build-control-plane.sh');

/**
 * Finds kube-apiserver and etcd through `scripts/build-control-plane.sh`: `KEDGE_CONTROL_PLANE_DIR` when set
 * (checked, never built), else the cache, else a build from Go modules (minutes; each progress line of the
 * script is passed to `onProgress` as it comes). Throws `DevClusterError` (BinariesUnavailable) with the
 * script's last lines when it fails.
 */
export async function locateControlPlaneBinaries(
  { onProgress, env = process.env }: { onProgress?: (line: string) => void; env?: NodeJS.ProcessEnv } = {},
): Promise<ControlPlaneBinaries> {
  const child = spawn('bash', [buildScriptPath], { env, stdio: ['ignore', 'pipe', 'pipe'] });
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
    throw new DevClusterError('BinariesUnavailable', `cannot run ${buildScriptPath}: ${String(error)}`, { cause: error });
  });
  const dir = stdout.at(-1)?.trim();
  if (code !== 0 || !dir) {
    throw new DevClusterError('BinariesUnavailable',
      `building the control plane with ${buildScriptPath} failed (exit ${code}): ${stderr.slice(-10).join('\n')}`);
  }
  return { dir, etcd: join(dir, 'etcd'), kubeApiserver: join(dir, 'kube-apiserver') };
}
