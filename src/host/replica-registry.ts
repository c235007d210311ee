import {
  closeSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import type { AppProbe } from '../api/app.ts';

/** What the data dir remembers about one running replica, so that a restarted engine can find it again. */
export interface ReplicaRecord {
  namespace: string;
  app: string;
  index: number;
  pid: number;
  /** `/proc/<pid>/stat` start time: tells the recorded process from a later one with the same pid. */
  startTime: string;
  ports: Record<string, number>;
  templateHash: string;
  releaseKey: string;
  revision: string;
  startedAt: string;
  restarts: number;
  /** The probes it runs under, so that an adopted replica is probed before its App is reconciled again. */
  readinessProbe?: AppProbe;
  livenessProbe?: AppProbe;
}

/** What the data dir remembers about one App's rollout. */
export interface AppRecord {
  namespace: string;
  app: string;
  templateHash?: string;
  /** When the rollout of `templateHash` last made progress (RFC 3339). */
  lastProgressAt?: string;
  /** The last template whose rollout completed: later crashes of its replicas are no stalled rollout. */
  completedTemplateHash?: string;
}

interface RegistryFile {
  version: 1;
  apps: AppRecord[];
  replicas: ReplicaRecord[];
}

/** What {@link ReplicaRegistry.load} found, and where. */
export interface RegistryContents {
  apps: AppRecord[];
  replicas: ReplicaRecord[];
  /**
   * `current`: `replicas.json`; `previous`: `replicas.json.prev` (the current one was unreadable); `none`: no
   * registry yet (a fresh data dir); `unreadable`: files exist but neither parses.
   */
  from: 'current' | 'previous' | 'none' | 'unreadable';
  /** Why a file that exists could not be used, per file (for the log). */
  problems: string[];
}

/**
 * The host runtime's registry, `<dataDir>/host/replicas.json`. Written synchronously and durably on every
 * change: the new version goes to a temp file that is fsynced, the current version is hard-linked to
 * `replicas.json.prev`, the temp file is renamed over the current one, and the directory is fsynced. So after a crash
 * at any point one of the two files holds a complete recent version. An unchanged body is not rewritten.
 * Holds no environment values (they may carry secrets).
 */
export class ReplicaRegistry {
  readonly file: string;
  readonly previousFile: string;
  private lastBody?: string;

  constructor(dataDir: string) {
    this.file = join(dataDir, 'host', 'replicas.json');
    this.previousFile = `${this.file}.prev`;
  }

  /** Reads the current version, else the previous one; never writes (the evidence stays as found). */
  load(): RegistryContents {
    const problems: string[] = [];
    let missing = 0;
    for (const [file, from] of [
      [this.file, 'current'],
      [this.previousFile, 'previous'],
    ] as const) {
      const outcome = readRegistryFile(file);
      if (outcome.kind === 'ok') return { ...outcome.contents, from, problems };
      if (outcome.kind === 'missing') missing++;
      else problems.push(`${file}: ${outcome.reason}`);
    }
    return { apps: [], replicas: [], from: missing === 2 ? 'none' : 'unreadable', problems };
  }

  /**
   * Moves an unreadable `replicas.json` aside to `replicas.json.corrupt-<time>` (kept for a post-mortem), so
   * that the next {@link save} does not overwrite it. Returns the new name, or undefined when there was none.
   */
  setAsideCurrent(): string | undefined {
    const aside = `${this.file}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    try {
      renameSync(this.file, aside);
      return aside;
    } catch {
      return undefined;
    }
  }

  save(apps: AppRecord[], replicas: ReplicaRecord[]): void {
    const registryFile: RegistryFile = { version: 1, apps, replicas };
    const body = `${JSON.stringify(registryFile, null, 2)}\n`;
    if (body === this.lastBody) return;
    const dir = dirname(this.file);
    mkdirSync(dir, { recursive: true });
    const aside = `${this.file}.${process.pid}.tmp`;
    const fd = openSync(aside, 'w', 0o600);
    try {
      writeSync(fd, body);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    // The current version becomes the previous one through a hard link, so `replicas.json` exists at every
    // instant (a crash between two renames must not leave only `.prev`). A missing current file (fresh data
    // dir, or set aside as corrupt) leaves the previous version alone.
    if (readRegistryFile(this.file).kind === 'ok') {
      const previousAside = `${this.previousFile}.${process.pid}.tmp`;
      rmSync(previousAside, { force: true });
      linkSync(this.file, previousAside);
      renameSync(previousAside, this.previousFile);
    }
    renameSync(aside, this.file);
    fsyncDirectory(dir);
    this.lastBody = body;
  }
}

type ReadOutcome =
  | { kind: 'ok'; contents: { apps: AppRecord[]; replicas: ReplicaRecord[] } }
  | { kind: 'missing' }
  | { kind: 'bad'; reason: string };

function readRegistryFile(file: string): ReadOutcome {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    return { kind: 'bad', reason: (error as Error).message };
  }
  try {
    const parsed = JSON.parse(text) as Partial<RegistryFile> | null;
    if (
      !parsed ||
      typeof parsed !== 'object' ||
      parsed.version !== 1 ||
      !Array.isArray(parsed.apps) ||
      !Array.isArray(parsed.replicas)
    ) {
      return { kind: 'bad', reason: `not a version 1 registry (${text.length} bytes)` };
    }
    return { kind: 'ok', contents: { apps: parsed.apps, replicas: parsed.replicas } };
  } catch (error) {
    return { kind: 'bad', reason: `${(error as Error).message} (${text.length} bytes)` };
  }
}

function fsyncDirectory(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
