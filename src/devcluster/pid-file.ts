import { readFile, rm, writeFile } from 'node:fs/promises';
import { isProcessAlive, processCommandLine, stopProcessGroup } from '../host/process-identity.ts';

/** Writes `pid` to `path` (one decimal line). */
export async function writePidFile(path: string, pid: number): Promise<void> {
  await writeFile(path, `${pid}\n`);
}

/** The pid recorded in `path`, or undefined when the file is missing or holds no pid. */
export async function readPidFile(path: string): Promise<number | undefined> {
  try {
    const pid = Number.parseInt((await readFile(path, 'utf8')).trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The pid in `path` when that process is still running and its command line contains `marker`
 * (a path only this cluster's processes carry, so that a recycled pid is never mistaken for ours).
 */
export async function livePid(path: string, marker?: string): Promise<number | undefined> {
  const pid = await readPidFile(path);
  if (pid === undefined || !isProcessAlive(pid)) return undefined;
  if (marker === undefined) return pid;
  const commandLine = await processCommandLine(pid);
  return commandLine?.includes(marker) ? pid : undefined;
}

/**
 * Stops the process group recorded in `path` if it is still running and carries `marker`, then removes
 * the pid file. Returns the pid that was stopped, if any.
 */
export async function stopRecordedProcess(path: string, marker: string): Promise<number | undefined> {
  const pid = await livePid(path, marker);
  if (pid !== undefined) await stopProcessGroup(pid);
  await rm(path, { force: true });
  return pid;
}
