import { closeSync, copyFileSync, mkdirSync, openSync, renameSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';

/** Where a replica's output goes: `<dataDir>/logs/<ns>/<app>/replica-<index>.log`, rotated to `.1`, `.2`, …. */
export function replicaLogFile(dataDir: string, namespace: string, app: string, index: number): string {
  return join(dataDir, 'logs', namespace, app, `replica-${index}.log`);
}

/**
 * Opens a replica's log file for appending (O_APPEND, so that writes land at the end after a truncation) and
 * returns the descriptor to hand to the child as stdout and stderr. The caller closes it after the spawn:
 * the child keeps its own copy, so output survives the engine going away.
 */
export function openReplicaLog(file: string): number {
  mkdirSync(join(file, '..'), { recursive: true });
  return openSync(file, 'a');
}

export function closeReplicaLog(fd: number): void {
  closeSync(fd);
}

/**
 * Rotates `file` when it is larger than `maxBytes`: shifts `.1`…`.keep-1` up, copies the file to `.1` and
 * truncates it in place (copy-and-truncate, because the running process holds the file open; lines written
 * between the copy and the truncation are lost). Returns true when it rotated.
 */
export function rotateReplicaLog(file: string, maxBytes: number, keep = 3): boolean {
  let size: number;
  try {
    size = statSync(file).size;
  } catch {
    return false;
  }
  if (size <= maxBytes) return false;
  for (let i = keep - 1; i >= 1; i--) {
    try {
      renameSync(`${file}.${i}`, `${file}.${i + 1}`);
    } catch {
      // that generation does not exist yet
    }
  }
  copyFileSync(file, `${file}.1`);
  truncateSync(file, 0);
  return true;
}
