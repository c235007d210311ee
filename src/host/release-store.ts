import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, readdir, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { extractArtifact } from '../kustomize/safe-extract.ts';
import { scratchDir } from '../store/scratch-dir.ts';
import { closeReplicaLog, openReplicaLog } from './replica-logs.ts';
import { stopProcessGroup } from './process-identity.ts';

/** One source revision of one App, extracted once and never changed afterwards (but by its one setup run). */
export interface Release {
  /** Directory name under `<dataDir>/releases/<ns>/<app>/`: the artifact's sha256, plus a setup hash when set up. */
  key: string;
  dir: string;
  /** `sha256:<hex>` of the artifact. */
  digest: string;
  revision: string;
}

/** A release could not be prepared; `reason` is the condition reason it maps to (ArtifactFailed, SetupFailed). */
export class ReleaseError extends Error {
  override name = 'ReleaseError';
  constructor(
    readonly reason: 'ArtifactFailed' | 'SetupFailed',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface PrepareReleaseInput {
  namespace: string;
  name: string;
  /** The artifact, relative to `<dataDir>/artifacts` (the `kedge.dev/source-artifact` annotation). */
  artifact: string;
  revision: string;
  workingDir?: string;
  setup?: string[];
  /** Environment of the setup command. */
  env?: Record<string, string>;
  signal?: AbortSignal;
  /** Setup gives up after this long. Default 10 min. */
  setupTimeoutMs?: number;
}

/**
 * The releases of Apps under `<dataDir>/releases/<ns>/<app>/<key>/`. Each release is extracted safely (no
 * links, nothing outside the directory) exactly once; `setup` runs there once, its output in
 * `<dataDir>/logs/<ns>/<app>/setup-<key>.log`. A release exists for callers only once a `<key>.ready` marker
 * was written after a successful setup; a failed or interrupted one is removed and redone on the next call.
 */
export class ReleaseStore {
  private readonly digests = new Map<string, { mtimeMs: number; size: number; digest: string }>();

  constructor(private readonly dataDir: string) {}

  async prepare(input: PrepareReleaseInput): Promise<Release> {
    const archive = this.artifactFile(input);
    const digest = await this.digestOf(archive);
    const hex = digest.slice('sha256:'.length);
    const key = input.setup
      ? `${hex}-${createHash('sha256').update(JSON.stringify([input.setup, input.workingDir ?? '.'])).digest('hex').slice(0, 12)}`
      : hex;
    const root = this.appDir(input.namespace, input.name);
    const dir = path.join(root, key);
    const release: Release = { key, dir, digest, revision: input.revision };
    if (existsSync(`${dir}.ready`)) return release;

    await rm(dir, { recursive: true, force: true });
    await mkdir(root, { recursive: true });
    // Extracted in the data dir's scratch space (same file system, so the rename is atomic), which the engine
    // empties at start: a crash mid-extraction leaves nothing in the App's directory.
    const tmpRoot = scratchDir(this.dataDir);
    await mkdir(tmpRoot, { recursive: true, mode: 0o700 });
    try {
      const extracted = await extractArtifact(archive, { tmpRoot });
      await rename(extracted, dir);
    } catch (error) {
      throw new ReleaseError('ArtifactFailed', `failed to extract artifact '${input.artifact}': ${(error as Error).message}`, { cause: error });
    }
    if (input.setup) {
      try {
        await this.runSetup(input, release, input.setup);
      } catch (error) {
        await rm(dir, { recursive: true, force: true });
        throw error;
      }
    }
    await writeFile(`${dir}.ready`, `${JSON.stringify({ digest, revision: input.revision, at: new Date().toISOString() })}\n`);
    return release;
  }

  /** The absolute working directory for `workingDir` inside `release`; throws when it escapes or is missing. */
  async workingDir(release: Release, workingDir: string | undefined): Promise<string> {
    const cleaned = path.posix.normalize(`./${(workingDir ?? '.').replaceAll('\\', '/').replace(/^\/+/, '')}`);
    if (cleaned === '..' || cleaned.startsWith('../')) {
      throw new ReleaseError('ArtifactFailed', `workingDir '${workingDir}' points outside the release`);
    }
    const root = await realpath(release.dir);
    let real: string;
    try {
      real = await realpath(path.join(root, cleaned));
      if (!(await stat(real)).isDirectory()) throw new Error('not a directory');
    } catch {
      throw new ReleaseError('ArtifactFailed', `workingDir '${workingDir}' is not a directory in revision '${release.revision}'`);
    }
    if (real !== root && !real.startsWith(root + path.sep)) {
      throw new ReleaseError('ArtifactFailed', `workingDir '${workingDir}' resolves outside the release`);
    }
    return real;
  }

  /** Removes every release of the App but those whose keys are in `keep`. */
  async prune(namespace: string, name: string, keep: ReadonlySet<string>): Promise<void> {
    const root = this.appDir(namespace, name);
    const entries = await readdir(root).catch(() => [] as string[]);
    for (const entry of entries) {
      const key = entry.replace(/\.ready$/, '');
      if (keep.has(key)) continue;
      await rm(path.join(root, entry), { recursive: true, force: true });
    }
  }

  async removeAll(namespace: string, name: string): Promise<void> {
    await rm(this.appDir(namespace, name), { recursive: true, force: true });
  }

  private appDir(namespace: string, name: string): string {
    return path.join(this.dataDir, 'releases', namespace, name);
  }

  private artifactFile(input: PrepareReleaseInput): string {
    const root = path.join(this.dataDir, 'artifacts');
    const file = path.resolve(root, input.artifact);
    if (!file.startsWith(root + path.sep)) {
      throw new ReleaseError('ArtifactFailed', `source artifact '${input.artifact}' lies outside the artifact storage`);
    }
    if (!existsSync(file)) throw new ReleaseError('ArtifactFailed', `source artifact '${input.artifact}' not found in storage`);
    return file;
  }

  private async digestOf(file: string): Promise<string> {
    const { mtimeMs, size } = await stat(file);
    const cached = this.digests.get(file);
    if (cached && cached.mtimeMs === mtimeMs && cached.size === size) return cached.digest;
    const hash = createHash('sha256');
    for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
    const digest = `sha256:${hash.digest('hex')}`;
    this.digests.set(file, { mtimeMs, size, digest });
    return digest;
  }

  private async runSetup(input: PrepareReleaseInput, release: Release, argv: string[]): Promise<void> {
    const cwd = await this.workingDir(release, input.workingDir);
    const logFile = path.join(this.dataDir, 'logs', input.namespace, input.name, `setup-${release.key}.log`);
    const fd = openReplicaLog(logFile);
    const where = `setup of revision '${input.revision}' (log ${path.relative(this.dataDir, logFile)})`;
    try {
      const child = spawn(argv[0]!, argv.slice(1), { cwd, env: input.env, stdio: ['ignore', fd, fd], detached: true });
      const timeoutMs = input.setupTimeoutMs ?? 600_000;
      const stop = () => void (child.pid && stopProcessGroup(child.pid, { graceMs: 2_000, mustEnd: false }));
      const timer = setTimeout(stop, timeoutMs);
      input.signal?.addEventListener('abort', stop, { once: true });
      const result = await new Promise<{ code: number | null; signal: string | null; error?: Error }>((resolve) => {
        child.once('error', (error) => resolve({ code: null, signal: null, error }));
        child.once('exit', (code, signal) => resolve({ code, signal }));
      }).finally(() => {
        clearTimeout(timer);
        input.signal?.removeEventListener('abort', stop);
      });
      if (result.error) throw new ReleaseError('SetupFailed', `${where} could not start '${argv[0]}': ${result.error.message}`);
      if (result.code !== 0) {
        const how = result.signal ? `was killed by ${result.signal}` : `exited with code ${result.code}`;
        throw new ReleaseError('SetupFailed', `${where} ${how}`);
      }
    } finally {
      closeReplicaLog(fd);
    }
  }
}
