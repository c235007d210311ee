import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

/*
 * Processes Kedge starts on this host (App replicas, setup commands, the dev cluster's etcd and kube-apiserver):
 * whether the one recorded still runs, and stopping its process group.
 */

/**
 * A process as the host runtime records it: its pid and the kernel's start time for it (clock ticks since
 * boot, field 22 of `/proc/<pid>/stat`). The pair never matches a different process, even after pid reuse.
 */
export interface ProcessIdentity {
  pid: number;
  startTime: string;
}

/** The fields of `/proc/<pid>/stat` that Kedge reads. */
export interface ProcessStat {
  /** `R`, `S`, `Z` (zombie), … */
  state: string;
  /** Process group id. */
  pgrp: number;
  /** Clock ticks since boot (see {@link ProcessIdentity}). */
  startTime: string;
}

/** `/proc/<pid>/stat` of `pid`, or undefined when the process is gone (or `/proc` is missing). */
export function processStat(pid: number): ProcessStat | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0]!, pgrp: Number(fields[2]), startTime: fields[19]! };
  } catch {
    return undefined;
  }
}

/** The start time of `pid` as `/proc` reports it, or undefined when the process is gone or a zombie. */
export function processStartTime(pid: number): string | undefined {
  const stat = processStat(pid);
  return stat && stat.state !== 'Z' ? stat.startTime : undefined;
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
 * Ends the process group led by `pgid`: SIGTERM, then SIGKILL when it is still there after `graceMs` (default
 * 10 s). Resolves once no process of the group exists (a group already gone resolves at once); when some
 * survive SIGKILL for 5 s it rejects, or with `mustEnd: false` resolves anyway.
 */
export async function stopProcessGroup(pgid: number, { graceMs = 10_000, mustEnd = true }: { graceMs?: number; mustEnd?: boolean } = {}): Promise<void> {
  if (!signalProcessGroup(pgid, 'SIGTERM')) return;
  if (await waitGroupGone(pgid, graceMs)) return;
  signalProcessGroup(pgid, 'SIGKILL');
  if (!(await waitGroupGone(pgid, 5_000)) && mustEnd) throw new Error(`process group ${pgid} survived SIGKILL`);
}

/** True when a process with this pid exists (including one owned by another user). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The command line of a running process, or undefined when it is gone (Linux /proc, else `ps`). */
export async function processCommandLine(pid: number): Promise<string | undefined> {
  try {
    const raw = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    return raw.split('\0').join(' ').trim() || undefined;
  } catch {
    try {
      const { stdout } = await run('ps', ['-o', 'args=', '-p', String(pid)]);
      return stdout.trim() || undefined;
    } catch {
      return undefined;
    }
  }
}

async function waitGroupGone(pgid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isProcessGroupAlive(pgid)) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return true;
}
