import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tar from 'tar';

/** The artifact's bytes do not match the digest recorded by the source. */
export class DigestMismatchError extends Error {
  override name = 'DigestMismatchError';
  readonly reason = 'ArtifactFailed';
}

/** The archive holds entries that could write outside the extraction directory, or non-regular files. */
export class UnsafeArchiveError extends Error {
  override name = 'UnsafeArchiveError';
  readonly reason = 'ArtifactFailed';
  constructor(
    readonly entries: string[],
    archive: string,
  ) {
    super(`refusing to extract artifact ${path.basename(archive)}: ${entries.join('; ')}`);
  }
}

/** A path (e.g. `spec.path`) that leads outside the artifact root. */
export class PathEscapeError extends Error {
  override name = 'PathEscapeError';
  readonly reason = 'ArtifactFailed';
}

/** `spec.path` does not exist in the artifact. */
export class PathNotFoundError extends Error {
  override name = 'PathNotFoundError';
  readonly reason = 'ArtifactFailed';
}

/** Checks that the SHA-256 of `file` equals `digest` (`sha256:<hex>`); throws `DigestMismatchError` otherwise. */
export async function verifyDigest(file: string, digest: string): Promise<void> {
  const match = /^sha256:([0-9a-f]{64})$/i.exec(digest);
  if (!match?.[1]) throw new DigestMismatchError(`unsupported artifact digest '${digest}', expected sha256:<hex>`);
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  const actual = hash.digest('hex');
  if (actual !== match[1].toLowerCase()) {
    throw new DigestMismatchError(
      `artifact ${path.basename(file)} digest mismatch: expected sha256:${match[1].toLowerCase()}, got sha256:${actual}`,
    );
  }
}

const ALLOWED_TYPES = new Set(['File', 'OldFile', 'ContiguousFile', 'Directory']);

/** Why one tar entry is unsafe, or undefined when it is a plain file or directory inside the root. */
function entryProblem(entryPath: string, type: string): string | undefined {
  if (!ALLOWED_TYPES.has(type)) return `${entryPath}: ${type} entries are not allowed`;
  if (entryPath.includes('\0')) return `${JSON.stringify(entryPath)}: NUL in path`;
  if (path.posix.isAbsolute(entryPath) || path.win32.isAbsolute(entryPath) || /^[a-zA-Z]:/.test(entryPath)) {
    return `${entryPath}: absolute path`;
  }
  if (entryPath.split(/[\\/]+/).includes('..')) return `${entryPath}: '..' in path`;
  return undefined;
}

/**
 * Extracts a tar.gz artifact into a fresh temporary directory and returns its real path. Before anything
 * is written, every entry is checked: only regular files and directories with relative paths free of `..`
 * are accepted; symlinks, hard links, devices and FIFOs are rejected outright. With `digest`, the bytes are
 * verified first. On any failure nothing is left on disk.
 */
export async function extractArtifact(archive: string, opts: { digest?: string; tmpRoot?: string } = {}): Promise<string> {
  if (opts.digest) await verifyDigest(archive, opts.digest);

  const problems: string[] = [];
  await tar.t({
    file: archive,
    strict: true,
    onReadEntry: (entry) => {
      const problem = entryProblem(entry.path, entry.type);
      if (problem) problems.push(problem);
    },
  });
  if (problems.length > 0) throw new UnsafeArchiveError(problems, archive);

  const dest = await realpath(await mkdtemp(path.join(opts.tmpRoot ?? tmpdir(), 'kedge-artifact-')));
  const late: string[] = [];
  try {
    await tar.x({
      file: archive,
      cwd: dest,
      strict: true,
      preservePaths: false,
      preserveOwner: false,
      // Belt and braces: the listing pass already refused these, the archive is read a second time.
      filter: (entryPath, entry) => {
        const problem = entryProblem(entryPath, 'type' in entry ? entry.type : 'File');
        if (problem) late.push(problem);
        return problem === undefined;
      },
    });
    if (late.length > 0) throw new UnsafeArchiveError(late, archive);
    return dest;
  } catch (error) {
    await rm(dest, { recursive: true, force: true });
    throw error;
  }
}

/**
 * Resolves `relPath` (a `spec.path`) inside `root`, following symlinks, and returns the absolute path.
 * As in Flux, a leading `/` means the artifact root. Throws `PathEscapeError` when `..` climbs above the root
 * or a symlink on the way points outside it.
 */
export async function resolveInside(root: string, relPath: string): Promise<string> {
  const realRoot = await realpath(root);
  const cleaned = path.posix.normalize(`./${relPath.replaceAll('\\', '/').replace(/^\/+/, '')}`);
  if (cleaned === '..' || cleaned.startsWith('../')) {
    throw new PathEscapeError(`path '${relPath}' points outside the artifact root`);
  }
  const joined = path.join(realRoot, cleaned);
  let real: string;
  try {
    real = await realpath(joined);
  } catch {
    throw new PathNotFoundError(`kustomization path '${relPath}' not found in the artifact`);
  }
  if (real !== realRoot && !real.startsWith(realRoot + path.sep)) {
    throw new PathEscapeError(`path '${relPath}' resolves outside the artifact root through a symlink`);
  }
  return real;
}
