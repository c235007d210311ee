import { copyFile, mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { resolve, sep } from 'node:path';
import type { Artifact } from '../../api/gitrepository.ts';
import { digestFile, packArtifact, type PackOptions } from './pack-artifact.ts';

export type { Artifact };

/** A path component that would escape or break the storage layout. */
export class ArtifactPathError extends Error {
  override readonly name = 'ArtifactPathError';
}

const SAFE_COMPONENT = /^[^/\\\0]+$/;

/**
 * Artifacts on disk under `root`, laid out as Flux does: `<kind>/<namespace>/<name>/<file>` with the kind
 * lowercased. Every path is resolved and checked to stay inside `root`.
 */
export class ArtifactStorage {
  readonly root: string;
  readonly baseUrl: string;

  constructor(root: string, baseUrl: string) {
    this.root = resolve(root);
    this.baseUrl = baseUrl.replace(/\/+$/, '');
  }

  /** Relative path of an artifact file; throws ArtifactPathError for components like `..` or with `/`. */
  relativePath(kind: string, namespace: string, name: string, file?: string): string {
    const parts = [kind.toLowerCase(), namespace, name, ...(file === undefined ? [] : [file])];
    for (const part of parts) {
      if (!SAFE_COMPONENT.test(part) || part === '.' || part === '..') {
        throw new ArtifactPathError(
          `invalid artifact path component '${part}' for ${kind} ${namespace}/${name}`,
        );
      }
    }
    return parts.join('/');
  }

  /** Absolute path of a path relative to the root; throws ArtifactPathError if it would leave the root. */
  localPath(relativePath: string): string {
    const absolute = resolve(this.root, relativePath);
    if (!absolute.startsWith(this.root + sep))
      throw new ArtifactPathError(`artifact path '${relativePath}' escapes the storage root`);
    return absolute;
  }

  /** Builds the status artifact for a file already written at `relativePath`. */
  artifactFor(
    relativePath: string,
    revision: string,
    packed: { digest: string; size: number },
    now = new Date(),
  ): Artifact {
    this.localPath(relativePath);
    return {
      revision,
      digest: packed.digest,
      path: relativePath,
      url: `${this.baseUrl}/${relativePath.split('/').map(encodeURIComponent).join('/')}`,
      size: packed.size,
      lastUpdateTime: now.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    };
  }

  /**
   * Packs the checkout `dir` into `<kind>/<ns>/<name>/<hex>.tar.gz` (the hex is the revision's `sha1:` commit
   * or `sha256:` digest) and returns its status artifact. See {@link packArtifact} for what is left out.
   */
  async archive(
    kind: string,
    namespace: string,
    name: string,
    revision: string,
    dir: string,
    opts: PackOptions = {},
  ): Promise<Artifact> {
    const commit = /(?:sha1|sha256):([0-9a-f]+)$/.exec(revision)?.[1] ?? revision;
    const relativePath = this.relativePath(kind, namespace, name, `${commit}.tar.gz`);
    const file = this.localPath(relativePath);
    await mkdir(resolve(file, '..'), { recursive: true });
    return this.artifactFor(relativePath, revision, await packArtifact(dir, file, opts));
  }

  /**
   * Stores a file as it is (an index, a packaged chart) at `<kind>/<ns>/<name>/<fileName>`, written to a dot
   * file first and renamed into place, and returns its status artifact.
   */
  async storeFile(
    kind: string,
    namespace: string,
    name: string,
    fileName: string,
    revision: string,
    source: string,
  ): Promise<Artifact> {
    const relativePath = this.relativePath(kind, namespace, name, fileName);
    const file = this.localPath(relativePath);
    await mkdir(resolve(file, '..'), { recursive: true });
    const temp = this.localPath(this.relativePath(kind, namespace, name, `.${fileName}.${process.pid}.tmp`));
    await copyFile(source, temp);
    await rename(temp, file);
    return this.artifactFor(relativePath, revision, await digestFile(file));
  }

  /** Whether a regular file exists at the artifact's path. */
  async exists(artifact: Pick<Artifact, 'path'>): Promise<boolean> {
    try {
      return (await stat(this.localPath(artifact.path))).isFile();
    } catch (error) {
      if (error instanceof ArtifactPathError) throw error;
      return false;
    }
  }

  /**
   * Deletes old artifacts of one object: keeps `keepPaths` (relative paths, e.g. the current artifact) and
   * the `retainNewest` most recently written other files; in-flight temp files (dot files) are left alone.
   * Returns the relative paths deleted.
   */
  async garbageCollect(
    kind: string,
    namespace: string,
    name: string,
    keepPaths: readonly string[],
    retainNewest: number,
  ): Promise<string[]> {
    const dirPath = this.relativePath(kind, namespace, name);
    const entries = await readdir(this.localPath(dirPath), { withFileTypes: true }).catch(() => []);
    const keep = new Set(keepPaths);
    const candidates: Array<{ path: string; mtime: number }> = [];
    for (const entry of entries) {
      const path = `${dirPath}/${entry.name}`;
      if (!entry.isFile() || entry.name.startsWith('.') || keep.has(path)) continue;
      candidates.push({ path, mtime: (await stat(this.localPath(path))).mtimeMs });
    }
    candidates.sort((a, b) => b.mtime - a.mtime || (a.path < b.path ? 1 : -1));
    const doomed = candidates.slice(Math.max(0, retainNewest)).map((c) => c.path);
    for (const path of doomed) await rm(this.localPath(path), { force: true });
    return doomed;
  }

  /** Removes every artifact of one object (on deletion of the source). */
  async removeAll(kind: string, namespace: string, name: string): Promise<void> {
    await rm(this.localPath(this.relativePath(kind, namespace, name)), { recursive: true, force: true });
  }
}
