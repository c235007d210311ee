import { runTracked } from './tracked-process.ts';

/*
 * Time budgets from what a test waits for. The dominant cost of the process-heavy tests is starting processes
 * (a `kedge` CLI start loads and compiles the TypeScript sources: about 2 s on an idle 2-core machine, over
 * 10 s under load 10), so they measure that cost when the file starts, on the machine as loaded as it is
 * then, and give each step (and each test) a budget of so many starts plus what the step itself waits for.
 */

/** Headroom over a cost measured at the start of a file: the load can grow while the file runs. */
export const LoadHeadroom = 3;

/**
 * Wall time of one run of `node <args>` to its end (e.g. `[bin/kedge.js, '--version']`: one CLI start), on this
 * machine now. Fails when the command fails: a budget must not be derived from an error.
 */
export async function measureStartMs(args: string[]): Promise<number> {
  const started = performance.now();
  const run = await runTracked(process.execPath, args);
  if (run.code !== 0)
    throw new Error(`measuring a start of 'node ${args.join(' ')}' failed (${run.code}): ${run.stderr}`);
  return Math.ceil(performance.now() - started);
}

/** Budget of a step that starts `starts` processes of measured cost `perStartMs` and waits `waitsMs` on top. */
export function startsBudgetMs(starts: number, perStartMs: number, waitsMs = 0): number {
  return Math.ceil(starts * perStartMs * LoadHeadroom + waitsMs);
}
