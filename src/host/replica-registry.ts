import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
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

/**
 * The host runtime's registry, `<dataDir>/host/replicas.json`. Written synchronously and atomically (write
 * aside, rename) on every change, so that it is never torn and never behind a started process by more than
 * the spawn itself. Holds no environment values (they may carry secrets).
 */
export class ReplicaRegistry {
  readonly file: string;

  constructor(dataDir: string) {
    this.file = join(dataDir, 'host', 'replicas.json');
  }

  load(): { apps: AppRecord[]; replicas: ReplicaRecord[] } {
    try {
      const parsed = JSON.parse(readFileSync(this.file, 'utf8')) as Partial<RegistryFile>;
      return { apps: parsed.apps ?? [], replicas: parsed.replicas ?? [] };
    } catch {
      return { apps: [], replicas: [] };
    }
  }

  save(apps: AppRecord[], replicas: ReplicaRecord[]): void {
    mkdirSync(dirname(this.file), { recursive: true });
    const body: RegistryFile = { version: 1, apps, replicas };
    const aside = `${this.file}.${process.pid}.tmp`;
    writeFileSync(aside, `${JSON.stringify(body, null, 2)}\n`, { mode: 0o600 });
    renameSync(aside, this.file);
  }
}
