import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { packagePath } from '../package-paths.ts';

/** Where a replica's output goes: `<dataDir>/logs/<ns>/<app>/replica-<index>.log`, rotated to `.1`, `.2`, …. */
export function replicaLogFile(dataDir: string, namespace: string, app: string, index: number): string {
  return join(dataDir, 'logs', namespace, app, `replica-${index}.log`);
}

/** The directory holding every log of one App (replicas and setup commands). */
export function appLogDir(dataDir: string, namespace: string, app: string): string {
  return join(dataDir, 'logs', namespace, app);
}

/** How large replica logs may grow: `maxBytes` per file, `files` files in all (the current one included). */
export interface LogLimits {
  maxBytes: number;
  files: number;
}

/** 10 MiB per file, 3 files: at most 30 MiB per replica. */
export const DefaultLogLimits: LogLimits = { maxBytes: 10 * 1024 * 1024, files: 3 };

// Plain JavaScript run by bare `node` from the package's sources, the same from TypeScript and from the bundle.
const writerScript = packagePath('src', 'host', 'replica-log-writer.js');

/**
 * Starts the log writer of one replica (`replica-log-writer.js`, in a session of its own) and returns the
 * write end of its input pipe, to hand to the replica as stdout and stderr. The caller destroys the stream
 * right after spawning the replica: from then on only the replica (and its children) hold the write end, so
 * the writer ends when they do, and the engine can die or restart without the replica noticing.
 */
export function startReplicaLogWriter(file: string, limits: LogLimits): Writable {
  // The file exists from the start (for `kedge logs`), even before the writer runs.
  mkdirSync(join(file, '..'), { recursive: true });
  closeSync(openSync(file, 'a', 0o600));
  const writer = spawn(
    process.execPath,
    [writerScript, file, String(limits.maxBytes), String(limits.files)],
    {
      stdio: ['pipe', 'ignore', 'ignore'],
      detached: true,
    },
  );
  writer.unref();
  writer.on('error', () => undefined);
  const input = writer.stdin;
  input.on('error', () => undefined);
  return input;
}

/** Removes every log of an App (it was deleted). */
export async function removeAppLogs(dataDir: string, namespace: string, app: string): Promise<void> {
  await rm(appLogDir(dataDir, namespace, app), { recursive: true, force: true });
}

/**
 * Opens a log file for appending (O_APPEND) and returns the descriptor to hand to a child as stdout and stderr
 * (setup commands). The caller closes it after the spawn: the child keeps its own copy.
 */
export function openReplicaLog(file: string): number {
  mkdirSync(join(file, '..'), { recursive: true });
  return openSync(file, 'a');
}

export function closeReplicaLog(fd: number): void {
  closeSync(fd);
}
