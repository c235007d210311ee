import { execFile, spawn } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { packagePath } from '../../package-paths.ts';
import { DecryptionError } from './decryption-error.ts';

/** The build script; its contract: it prints the directory holding runnable `sops` and `age-keygen` on stdout. */
export const sopsBuildScript = packagePath('scripts', 'build-sops.sh');

/** A runnable sops and where it was found. */
export interface SopsBinary {
  file: string;
  /** `sops --version`'s first line, e.g. `sops 3.13.3`. */
  version: string;
  from: 'KEDGE_SOPS_BIN' | 'cache' | 'PATH' | 'build';
}

/** The search's result, with the `KEDGE_SOPS_BIN` it was made under (a changed value searches again). */
let located: { explicit: string | undefined; binary: Promise<SopsBinary> } | undefined;

/**
 * The sops binary, found once per process, in this order: `KEDGE_SOPS_BIN` when set (checked, never replaced by
 * another); the pinned build cached by `scripts/build-sops.sh` (`~/.cache/kedge/sops/<version>…`); `sops` on
 * PATH; else a build from Go modules by that script (minutes cold; its progress lines go to stderr). None of
 * them → `DecryptionError` saying how to get one. A failure is not remembered: the next decryption looks again;
 * a success is, until `KEDGE_SOPS_BIN` changes.
 */
export function locateSops(): Promise<SopsBinary> {
  const explicit = process.env['KEDGE_SOPS_BIN'] || undefined;
  if (located && located.explicit === explicit) return located.binary;
  const search: NonNullable<typeof located> = {
    explicit,
    binary: findSops(explicit).catch((error: unknown) => {
      if (located === search) located = undefined;
      throw error;
    }),
  };
  located = search;
  return search.binary;
}

async function findSops(explicit: string | undefined): Promise<SopsBinary> {
  if (explicit) {
    const version = await versionOf(explicit);
    if (version) return { file: explicit, version, from: 'KEDGE_SOPS_BIN' };
    throw unavailable(`KEDGE_SOPS_BIN=${explicit} is not a runnable sops binary`);
  }
  const cached = await runScript(['--no-build']).catch(() => undefined);
  if (cached) return checked(path.join(cached, 'sops'), 'cache');
  const onPath = await findOnPath('sops');
  const fromPath = onPath ? await versionOf(onPath) : undefined;
  if (onPath && fromPath) return { file: onPath, version: fromPath, from: 'PATH' };
  const built = await runScript([]).catch((error: unknown) => {
    throw unavailable(error instanceof Error ? error.message : String(error));
  });
  return checked(path.join(built, 'sops'), 'build');
}

async function checked(file: string, from: SopsBinary['from']): Promise<SopsBinary> {
  const version = await versionOf(file);
  if (!version) throw unavailable(`${file} does not run`);
  return { file, version, from };
}

function unavailable(why: string): DecryptionError {
  return new DecryptionError(
    `sops is not available to decrypt with: ${why}; install sops on PATH, or Go so Kedge can build it ` +
      `(scripts/build-sops.sh), or set KEDGE_SOPS_BIN to a sops binary`,
  );
}

/** `sops --version`'s first line, or undefined when the file does not run as sops. */
function versionOf(file: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(
      file,
      ['--version', '--disable-version-check'],
      { env: { SOPS_DISABLE_VERSION_CHECK: '1' }, timeout: 30_000, encoding: 'utf8' },
      (error, stdout) => {
        const line = stdout.split('\n')[0]?.trim() ?? '';
        resolve(!error && /^sops \d/.test(line) ? line.replace(/\s+\(.*\)$/, '') : undefined);
      },
    );
  });
}

async function findOnPath(name: string): Promise<string | undefined> {
  for (const dir of (process.env['PATH'] ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const file = path.join(dir, name);
    if (
      await access(file, constants.X_OK).then(
        () => true,
        () => false,
      )
    )
      return file;
  }
  return undefined;
}

/** Runs the build script; resolves the directory it prints, rejects with its last error lines. */
async function runScript(args: string[]): Promise<string> {
  const child = spawn('bash', [sopsBuildScript, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const stdout: string[] = [];
  const stderr: string[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => stdout.push(line));
  createInterface({ input: child.stderr }).on('line', (line) => {
    stderr.push(line);
    if (args.length === 0) process.stderr.write(`${line}\n`);
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  const dir = stdout.at(-1)?.trim();
  if (code !== 0 || !dir) {
    const why =
      stderr
        .filter((l) => !l.startsWith('[sops'))
        .slice(-3)
        .join('; ') || `exit ${code}`;
    throw new Error(`${sopsBuildScript} failed: ${why}`);
  }
  return dir;
}
