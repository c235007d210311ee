import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { packagePath } from '../package-paths.ts';

/** The build script; its contract: it prints the path of a runnable `kustomize-build` binary on stdout. */
export const rendererBuildScript = packagePath('scripts', 'build-kustomize.sh');

/** Kedge's confined kustomize renderer (`tools/kustomize-build`) could not be found or built. */
export class RendererUnavailableError extends Error {
  override name = 'RendererUnavailableError';
  readonly reason = 'BuildFailed';
}

let located: Promise<string> | undefined;

/**
 * The path of the `kustomize-build` binary, found once per process through `scripts/build-kustomize.sh`:
 * `KEDGE_KUSTOMIZE_BIN` when set (checked, never built), else the cache keyed by the tool's source hash,
 * else a build from Go modules on first use (minutes cold; the script's progress lines go to stderr as they
 * come). A failure is not remembered: the next render tries again. There is no unconfined fallback.
 */
export function locateRenderer(): Promise<string> {
  located ??= runScript().catch((error: unknown) => {
    located = undefined;
    throw error;
  });
  return located;
}

async function runScript(): Promise<string> {
  const child = spawn('bash', [rendererBuildScript], { stdio: ['ignore', 'pipe', 'pipe'] });
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
  }).catch((error: unknown) => {
    throw new RendererUnavailableError(`cannot run ${rendererBuildScript}: ${String(error)}`, {
      cause: error,
    });
  });
  const file = stdout.at(-1)?.trim();
  if (code !== 0 || !file) {
    const why =
      stderr
        .filter((l) => !l.startsWith('[kustomize-build'))
        .slice(-3)
        .join('; ') || `exit ${code}`;
    throw new RendererUnavailableError(
      `kustomize renderer unavailable: ${why}; install Go so Kedge can build tools/kustomize-build ` +
        `(scripts/build-kustomize.sh), or set KEDGE_KUSTOMIZE_BIN to a prebuilt binary`,
    );
  }
  return file;
}
