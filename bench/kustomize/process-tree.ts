import { readdirSync, readFileSync } from 'node:fs';
import { peakRssBytes, processCpu } from '../sources/proc-usage.ts';

interface ProcEntry {
  pid: number;
  ppid: number;
}

function liveProcesses(): ProcEntry[] {
  const out: ProcEntry[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      out.push({ pid: Number(name), ppid });
    } catch {
      // ended while listing
    }
  }
  return out;
}

/** `roots` and every live descendant. */
export function processTree(roots: number[]): number[] {
  const all = liveProcesses();
  const tree = new Set(roots);
  for (let grew = true; grew;) {
    grew = false;
    for (const p of all)
      if (!tree.has(p.pid) && tree.has(p.ppid)) {
        tree.add(p.pid);
        grew = true;
      }
  }
  return [...tree];
}

/**
 * CPU seconds (user + system) of the process trees under `roots`: each live process's own time plus the time of
 * its children it has already reaped (/proc stat cutime + cstime), so ended `git` and renderer processes count
 * once and live ones count too.
 */
export function treeCpuSeconds(roots: number[]): number {
  let total = 0;
  for (const pid of processTree(roots)) {
    try {
      total += processCpu(pid).total;
    } catch {
      // ended meanwhile: its time moves to its parent's cutime
    }
  }
  return total;
}

/** Sum of VmHWM (peak RSS over each process's life) of `pids`, in bytes. */
export const peakRss = (pids: number[]): number => pids.reduce((sum, pid) => sum + peakRssBytes(pid), 0);

/** Current RSS of the trees under `roots` (bytes), summed over live processes. */
export function treeRss(roots: number[]): number {
  let total = 0;
  for (const pid of processTree(roots)) {
    try {
      const kb = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
      total += Number(kb ?? 0) * 1024;
    } catch {
      // ended meanwhile
    }
  }
  return total;
}
