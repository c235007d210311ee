import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

/** One function's self time in a V8 CPU profile. */
export interface ProfileEntry {
  name: string;
  /** `file:line`, relative to the package root when inside it. */
  where: string;
  selfS: number;
  /** Share of the profile's busy time (everything but `(idle)`). */
  percent: number;
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/**
 * The `count` functions with the most self time in a `.cpuprofile` written by `node --cpu-prof`, summed over
 * every node of the same function (name and location), and the busy total in seconds.
 */
export function topFunctions(
  file: string,
  count: number,
  root = process.cwd(),
): { top: ProfileEntry[]; totalS: number } {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byNode = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, { name: string; where: string; us: number }>();
  let busy = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byNode.get(profile.samples[i]!);
    const us = profile.timeDeltas[i] ?? 0;
    if (!node) continue;
    const frame = node.callFrame;
    if (frame.functionName === '(idle)') continue;
    busy += us;
    const url = frame.url.replace(/^file:\/\//, '');
    const where = url
      ? `${url.startsWith(root) ? relative(root, url) : url.replace(/^.*node_modules\//, '')}:${frame.lineNumber + 1}`
      : '';
    const key = `${frame.functionName}@${where}`;
    const entry = self.get(key) ?? { name: frame.functionName || '(anonymous)', where, us: 0 };
    entry.us += us;
    self.set(key, entry);
  }
  const top = [...self.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, count)
    .map((e) => ({
      name: e.name,
      where: e.where,
      selfS: e.us / 1e6,
      percent: (100 * e.us) / Math.max(1, busy),
    }));
  return { top, totalS: busy / 1e6 };
}
