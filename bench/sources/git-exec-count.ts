import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Processes started per repository: `git` commands run directly, and every program exec'ed under them. */
export interface ExecCount {
  /** `git` invocations by the caller (its children only), per repository. */
  gitCommands: number;
  /** Every successful execve under those commands (git, sh, upload-pack, pack-objects, index-pack, …), per repository. */
  execs: number;
  /** Top-level commands seen, first argument → count, per repository. */
  byCommand: Record<string, number>;
}

/**
 * Runs `fn` with a `git` on PATH that runs the real git under `strace -f -e execve`, and counts what the
 * caller ran per repository. Processes spawned with a PATH taken from `process.env` at spawn time (the
 * engine's git environment, the clone baseline) are seen. For counting only: strace slows every process,
 * so no time is measured here.
 */
export async function countGitExecs(
  workRoot: string,
  repositories: number,
  fn: () => Promise<void>,
): Promise<ExecCount> {
  const dir = mkdtempSync(join(workRoot, 'git-count-'));
  const realGit = execFileSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).trim();
  const wrapper = join(dir, 'git');
  writeFileSync(
    wrapper,
    `#!/bin/sh\nexec strace -f -qq -e trace=execve -e signal=none -o "${dir}/trace.$$" "${realGit}" "$@"\n`,
  );
  chmodSync(wrapper, 0o755);
  const path = process.env['PATH'];
  process.env['PATH'] = `${dir}:${path ?? ''}`;
  try {
    await fn();
  } finally {
    process.env['PATH'] = path;
  }
  const traces = readdirSync(dir).filter((name) => name.startsWith('trace.'));
  const byCommand: Record<string, number> = {};
  let execs = 0;
  for (const trace of traces) {
    const lines = readFileSync(join(dir, trace), 'utf8')
      .split('\n')
      .filter((line) => line.includes('execve(') && line.endsWith('= 0'));
    execs += lines.length;
    const command = /\["[^"]*git", (?:"-c", "[^"]*", )*"([^"]+)"/.exec(lines[0] ?? '')?.[1] ?? '?';
    byCommand[command] = (byCommand[command] ?? 0) + 1 / repositories;
  }
  rmSync(dir, { recursive: true, force: true });
  return { gitCommands: traces.length / repositories, execs: execs / repositories, byCommand };
}

/** `6.00 git commands (ls-remote 1, init 1, …), 14.0 processes` */
export function execCountText(count: ExecCount): string {
  const commands = Object.entries(count.byCommand)
    .sort((a, b) => b[1] - a[1])
    .map(([name, n]) => `${name} ${n.toFixed(2).replace(/\.00$/, '')}`)
    .join(', ');
  return `${count.gitCommands.toFixed(2)} git commands (${commands}), ${count.execs.toFixed(1)} processes exec'ed`;
}
