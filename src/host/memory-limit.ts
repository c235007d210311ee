import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

const UNITS: Record<string, number> = { '': 1, k: 1e3, K: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4 };

/** Bytes in a Kubernetes memory quantity (`256Mi` → 268435456). Throws on anything else. */
export function parseMemoryQuantity(quantity: string): number {
  const match = /^([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|k|K|M|G|T)?$/.exec(quantity);
  if (!match) throw new Error(`invalid memory quantity '${quantity}': use e.g. 256Mi or 1Gi`);
  return Math.floor(Number(match[1]) * (UNITS[match[2] ?? ''] ?? 1));
}

/** How a memory limit is applied to a replica's command: the wrapped argv and a sentence for status. */
export interface MemoryLimitPlan {
  argv: string[];
  /** E.g. `enforced as RLIMIT_DATA 256Mi (prlimit)`, or why it is not enforced. */
  description: string;
}

/**
 * Wraps `argv` so that the process starts with its data segment (heap and private writable mappings,
 * RLIMIT_DATA) capped at `limit` — with `prlimit`, which execs the command (the pid stays the same).
 * RLIMIT_AS is not used: runtimes such as Node.js and the JVM reserve far more address space than they use
 * and would not start. Without `prlimit` on PATH the command runs unlimited and the description says so.
 */
export function planMemoryLimit(argv: string[], limit: string | undefined, path = process.env.PATH ?? ''): MemoryLimitPlan {
  if (limit === undefined) return { argv, description: 'no memory limit set' };
  const bytes = parseMemoryQuantity(limit);
  const prlimit = findOnPath('prlimit', path);
  if (!prlimit) return { argv, description: `not enforced: prlimit (util-linux) not found on PATH` };
  return { argv: [prlimit, `--data=${bytes}`, '--', ...argv], description: `enforced as RLIMIT_DATA ${limit} (prlimit)` };
}

function findOnPath(program: string, path: string): string | undefined {
  for (const dir of path.split(delimiter).filter(Boolean)) {
    const candidate = join(dir, program);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}
