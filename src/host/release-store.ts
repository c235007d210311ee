import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, fstatSync } from 'node:fs';
import { mkdir, open, readFile, readdir, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { extractArtifact } from '../kustomize/safe-extract.ts';
import { scratchDir } from '../store/scratch-dir.ts';
import { closeReplicaLog, openReplicaLog } from './replica-logs.ts';
import { isProcessGroupAlive, isSameProcessAlive, processStartTime, stopProcessGroup, type ProcessIdentity } from './process-identity.ts';
import { recordStartedProcess } from './tracked-process-hook.ts';

/** How much of a failed setup's output its error message quotes: the last lines, at most this many characters. */
const OUTPUT_TAIL_CHARS = 500;
const OUTPUT_TAIL_LINES = 5;

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
  /** Aborting it stops the setup's process group (SIGTERM, SIGKILL after 2 s); `prepare` then rejects. */
  signal?: AbortSignal;
  /** Setup gives up after this long. Default 10 min. */
  setupTimeoutMs?: number;
  /** Called with the setup's pid (the id of its process group) once it runs. */
  onSetupStart?: (pid: number) => void;
}

/**
 * The releases of Apps under `<dataDir>/releases/<ns>/<app>/<key>/`. Each release is extracted safely (no
 * links, nothing outside the directory) exactly once; `setup` runs there once, its output in
 * `<dataDir>/logs/<ns>/<app>/setup-<key>.log`. A release exists for callers only once a `<key>.ready` marker
 * was written after a successful setup; a failed or interrupted one is removed and redone on the next call.
 * A running setup is recorded in `<key>.setup` (pid and start time), so that a setup an engine crash left
 * behind is stopped before its release is prepared again, pruned or removed.
 */
export class ReleaseStore {
  private readonly digests = new Map<string, { mtimeMs: number; size: number; digest: string }>();

  constructor(private readonly dataDir: string) {}

  /** Where the release of `input` lives (the artifact is hashed, nothing is written); see {@link isReady}. */
  async locate(input: PrepareReleaseInput): Promise<Release> {
    const archive = this.artifactFile(input);
    const digest = await this.digestOf(archive);
    const hex = digest.slice('sha256:'.length);
    const key = input.setup
      ? `${hex}-${createHash('sha256').update(JSON.stringify([input.setup, input.workingDir ?? '.'])).digest('hex').slice(0, 12)}`
      : hex;
    const dir = path.join(this.appDir(input.namespace, input.name), key);
    return { key, dir, digest, revision: input.revision };
  }

  /** True when the release was extracted and set up completely. */
  isReady(release: Release): boolean {
    return existsSync(`${release.dir}.ready`);
  }

  /** Extracts the release and runs its setup, unless it is ready already. Long: callers run it in the background. */
  async prepare(input: PrepareReleaseInput): Promise<Release> {
    const release = await this.locate(input);
    if (this.isReady(release)) return release;
    const { dir } = release;
    const root = path.dirname(dir);

    await this.stopRecordedSetup(dir);
    await rm(dir, { recursive: true, force: true });
    await mkdir(root, { recursive: true });
    // Extracted in the data dir's scratch space (same file system, so the rename is atomic), which the engine
    // empties at start: a crash mid-extraction leaves nothing in the App's directory.
    const tmpRoot = scratchDir(this.dataDir);
    await mkdir(tmpRoot, { recursive: true, mode: 0o700 });
    try {
      const extracted = await extractArtifact(this.artifactFile(input), { tmpRoot });
      await rename(extracted, dir);
    } catch (error) {
      throw new ReleaseError('ArtifactFailed', `failed to extract artifact '${input.artifact}': ${(error as Error).message}`, { cause: error });
    }
    try {
      input.signal?.throwIfAborted();
      if (input.setup) await this.runSetup(input, release, input.setup);
    } catch (error) {
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
    await writeFile(`${dir}.ready`, `${JSON.stringify({ digest: release.digest, revision: input.revision, at: new Date().toISOString() })}\n`);
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
      const key = entry.replace(/\.(ready|setup)$/, '');
      if (keep.has(key)) continue;
      if (entry.endsWith('.setup')) await this.stopRecordedSetup(path.join(root, key));
      await rm(path.join(root, entry), { recursive: true, force: true });
    }
  }

  /** Removes every release of the App, stopping any setup a previous engine left running. */
  async removeAll(namespace: string, name: string): Promise<void> {
    const root = this.appDir(namespace, name);
    const entries = await readdir(root).catch(() => [] as string[]);
    for (const entry of entries) if (entry.endsWith('.setup')) await this.stopRecordedSetup(path.join(root, entry.slice(0, -'.setup'.length)));
    await rm(root, { recursive: true, force: true });
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
    const where = `setup of revision '${input.revision}' (log ${path.relative(this.dataDir, logFile)})`;
    const fd = openReplicaLog(logFile);
    const outputFrom = fstatSync(fd).size;
    let child;
    try {
      child = spawn(argv[0]!, argv.slice(1), { cwd, env: input.env, stdio: ['ignore', fd, fd], detached: true });
      recordStartedProcess(child.pid, `setup of ${input.namespace}/${input.name}`);
    } finally {
      closeReplicaLog(fd);
    }
    const exited = new Promise<{ code: number | null; signal: string | null; error?: Error }>((resolve) => {
      child.once('error', (error) => resolve({ code: null, signal: null, error }));
      child.once('exit', (code, signal) => resolve({ code, signal }));
    });
    const pid = child.pid;
    const marker = `${release.dir}.setup`;
    if (pid !== undefined) {
      const startTime = processStartTime(pid);
      if (startTime) await writeFile(marker, `${JSON.stringify({ pid, startTime } satisfies ProcessIdentity)}\n`);
      input.onSetupStart?.(pid);
    }
    // Stopping ends the whole process group: the setup and whatever it started.
    let stopping: Promise<void> | undefined;
    const stop = () => {
      if (pid !== undefined) stopping ??= stopProcessGroup(pid, { graceMs: 2_000, mustEnd: false });
    };
    const timeoutMs = input.setupTimeoutMs ?? 600_000;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      stop();
    }, timeoutMs);
    input.signal?.addEventListener('abort', stop, { once: true });
    if (input.signal?.aborted) stop();
    const result = await exited.finally(() => {
      clearTimeout(timer);
      input.signal?.removeEventListener('abort', stop);
    });
    // Processes the setup left behind in its group end with it.
    if (pid !== undefined && isProcessGroupAlive(pid)) stop();
    await stopping;
    await rm(marker, { force: true });
    input.signal?.throwIfAborted();
    if (result.error) throw new ReleaseError('SetupFailed', `${where} could not start '${argv[0]}': ${result.error.message}`);
    if (result.code !== 0) {
      const how = timedOut
        ? `did not finish within ${Math.round(timeoutMs / 1000)}s and was stopped`
        : result.signal
          ? `was killed by ${result.signal}`
          : `exited with code ${result.code}`;
      const tail = await outputTail(logFile, outputFrom);
      throw new ReleaseError('SetupFailed', `${where} ${how}${tail ? `; its output ends with: ${tail}` : ''}`);
    }
  }

  /** Stops the setup recorded beside `dir` when that very process still runs (an engine crashed during it). */
  private async stopRecordedSetup(dir: string): Promise<void> {
    const marker = `${dir}.setup`;
    const recorded = await readFile(marker, 'utf8').then(
      (text) => JSON.parse(text) as ProcessIdentity,
      () => undefined,
    );
    if (recorded && isSameProcessAlive(recorded)) await stopProcessGroup(recorded.pid, { graceMs: 2_000, mustEnd: false });
    await rm(marker, { force: true });
  }
}

/** The last lines `file` got after byte `from`, on one line, at most {@link OUTPUT_TAIL_CHARS} characters. */
async function outputTail(file: string, from: number): Promise<string> {
  const handle = await open(file, 'r').catch(() => undefined);
  if (!handle) return '';
  try {
    const { size } = await handle.stat();
    const start = Math.max(from, size - 4 * OUTPUT_TAIL_CHARS);
    const buffer = Buffer.alloc(size - start);
    await handle.read(buffer, 0, buffer.length, start);
    const lines = buffer
      .toString('utf8')
      .split(/\r?\n/)
      .map((line) => line.trim())
      .filter(Boolean)
      .slice(-OUTPUT_TAIL_LINES)
      .join(' | ');
    return lines.length > OUTPUT_TAIL_CHARS ? `…${lines.slice(-OUTPUT_TAIL_CHARS)}` : lines;
  } finally {
    await handle.close();
  }
}
