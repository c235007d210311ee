import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** CPU seconds of a process from /proc: its own (utime+stime) and its reaped children's (cutime+cstime). */
export interface CpuSeconds {
  own: number;
  children: number;
  total: number;
}

/** Reads /proc/<pid>/stat; children only count once the process has waited for them (git exits are reaped by libuv). */
export function processCpu(pid: number | 'self'): CpuSeconds {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which may contain spaces: field 3 (state) is index 0.
  const fields = stat
    .slice(stat.lastIndexOf(')') + 2)
    .split(' ')
    .map(Number);
  const at = (field: number): number => (fields[field - 3] ?? 0) / CLOCK_TICKS;
  const own = at(14) + at(15);
  const children = at(16) + at(17);
  return { own, children, total: own + children };
}

/** CPU seconds spent between two readings. */
export function cpuSince(before: CpuSeconds, after: CpuSeconds): CpuSeconds {
  return {
    own: after.own - before.own,
    children: after.children - before.children,
    total: after.total - before.total,
  };
}

function statusField(pid: number | 'self', field: 'VmRSS' | 'VmHWM'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1];
  if (kb === undefined) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(kb) * 1024;
}

/** Resident set size now, in bytes. */
export const rssBytes = (pid: number | 'self'): number => statusField(pid, 'VmRSS');

/** Peak resident set size since the process started, in bytes. */
export const peakRssBytes = (pid: number | 'self'): number => statusField(pid, 'VmHWM');

/** Samples RSS every `everyMs` for `durationMs` and returns the highest sample (bytes). */
export async function sampleRss(pid: number | 'self', durationMs: number, everyMs = 250): Promise<number> {
  let peak = rssBytes(pid);
  const end = Date.now() + durationMs;
  while (Date.now() < end) {
    await new Promise((resolve) => setTimeout(resolve, everyMs));
    peak = Math.max(peak, rssBytes(pid));
  }
  return peak;
}
