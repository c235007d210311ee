import { execFile, spawn } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { packagePath } from '../package-paths.ts';

/** The build script; its contract: it prints the path of a runnable `helm` on stdout (instant when cached). */
export const helmBuildScript = packagePath('scripts', 'build-helm.sh');

/** A runnable helm and where it was found. */
export interface HelmBinary {
  file: string;
  /** `helm version --short`, e.g. `v4.3.1+g…`. */
  version: string;
  from: 'KEDGE_HELM_BIN' | 'build' | 'PATH';
}

/** Raised when no helm can be found or built; the message says how to get one. */
export class HelmUnavailableError extends Error {
  override name = 'HelmUnavailableError';
}

let located: { explicit: string | undefined; binary: Promise<HelmBinary> } | undefined;

/**
 * The helm binary, found once per process, in this order: `KEDGE_HELM_BIN` when set (checked, never replaced by
 * another); the pinned build of `scripts/build-helm.sh` (cached in `~/.cache/kedge/helm/<version>`, built from
 * Go modules when cold, its progress on stderr); `helm` on PATH when that build cannot run (no Go). A failure is
 * not remembered: the next call looks again; a success is, until `KEDGE_HELM_BIN` changes.
 */
export function locateHelm(): Promise<HelmBinary> {
  const explicit = process.env['KEDGE_HELM_BIN'] || undefined;
  if (located && located.explicit === explicit) return located.binary;
  const search: NonNullable<typeof located> = {
    explicit,
    binary: findHelm(explicit).catch((error: unknown) => {
      if (located === search) located = undefined;
      throw error;
    }),
  };
  located = search;
  return search.binary;
}

async function findHelm(explicit: string | undefined): Promise<HelmBinary> {
  if (explicit) {
    const version = await versionOf(explicit);
    if (version) return { file: explicit, version, from: 'KEDGE_HELM_BIN' };
    throw new HelmUnavailableError(`KEDGE_HELM_BIN=${explicit} is not a runnable helm binary`);
  }
  let buildFailure = '';
  const built = await runBuildScript().catch((error: unknown) => {
    buildFailure = error instanceof Error ? error.message : String(error);
    return undefined;
  });
  const builtVersion = built ? await versionOf(built) : undefined;
  if (built && builtVersion) return { file: built, version: builtVersion, from: 'build' };
  const onPath = await findOnPath('helm');
  const pathVersion = onPath ? await versionOf(onPath) : undefined;
  if (onPath && pathVersion) return { file: onPath, version: pathVersion, from: 'PATH' };
  throw new HelmUnavailableError(
    `helm is not available: ${buildFailure || 'the build gave no runnable helm'}; install helm on PATH, or Go ` +
      `so Kedge can build it (scripts/build-helm.sh), or set KEDGE_HELM_BIN to a helm binary`,
  );
}

/** `helm version --short`, or undefined when the file does not run as helm. */
function versionOf(file: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(file, ['version', '--short'], { timeout: 30_000, encoding: 'utf8' }, (error, stdout) => {
      const line = stdout.split('\n')[0]?.trim() ?? '';
      resolve(!error && /^v\d/.test(line) ? line : undefined);
    });
  });
}

async function findOnPath(name: string): Promise<string | undefined> {
  for (const dir of (process.env['PATH'] ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const file = path.join(dir, name);
    const runnable = await access(file, constants.X_OK).then(
      () => true,
      () => false,
    );
    if (runnable) return file;
  }
  return undefined;
}

/** Runs the build script; resolves the path it prints, rejects with its last error lines. */
async function runBuildScript(): Promise<string> {
  const child = spawn('bash', [helmBuildScript], { stdio: ['ignore', 'pipe', 'pipe'] });
  const stdout: string[] = [];
  const stderr: string[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => stdout.push(line));
  createInterface({ input: child.stderr }).on('line', (line) => {
    stderr.push(line);
    process.stderr.write(`${line}\n`);
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  const file = stdout.at(-1)?.trim();
  if (code !== 0 || !file) {
    const why =
      stderr
        .filter((l) => !l.startsWith('[helm'))
        .slice(-3)
        .join('; ') || `exit ${code}`;
    throw new Error(`${helmBuildScript} failed: ${why}`);
  }
  return file;
}
