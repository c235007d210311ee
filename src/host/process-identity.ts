import { readFileSync } from 'node:fs';

/**
 * A process as the host runtime records it: its pid and the kernel's start time for it (clock ticks since
 * boot, field 22 of `/proc/<pid>/stat`). The pair never matches a different process, even after pid reuse.
 */
export interface ProcessIdentity {
  pid: number;
  startTime: string;
}

/** The start time of `pid` as `/proc` reports it, or undefined when the process is gone (or `/proc` is missing). */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z') return undefined;
    return fields[19];
  } catch {
    return undefined;
  }
}

/** True when the very process recorded in `identity` still runs (not a zombie, not a recycled pid). */
export function isSameProcessAlive(identity: ProcessIdentity): boolean {
  return processStartTime(identity.pid) === identity.startTime;
}

/** True when any process of the group led by `pgid` exists. */
export function isProcessGroupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Sends `signal` to the whole process group led by `pgid`; false when the group is gone. */
export function signalProcessGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}

/**
 * Ends the process group led by `pgid`: SIGTERM, then SIGKILL after `graceMs`. Resolves once no process of
 * the group is left (or 5 s after SIGKILL, whatever happens).
 */
export async function terminateProcessGroup(pgid: number, graceMs: number): Promise<void> {
  if (!signalProcessGroup(pgid, 'SIGTERM')) return;
  if (await waitGroupGone(pgid, graceMs)) return;
  signalProcessGroup(pgid, 'SIGKILL');
  await waitGroupGone(pgid, 5_000);
}

async function waitGroupGone(pgid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isProcessGroupAlive(pgid)) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return true;
}
