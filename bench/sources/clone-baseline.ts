import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { cpuSince, processCpu, type CpuSeconds } from './proc-usage.ts';

const run = promisify(execFile);

/** One baseline round: `git clone --depth 1` of every URL. */
export interface CloneRound {
  wallMs: number;
  /** CPU of the clones (children of this process) plus this process. */
  cpu: CpuSeconds;
  /** Sum of each clone's own duration. */
  sumCloneMs: number;
}

/**
 * Clones every URL with `git clone -q --depth 1 --branch main` into a fresh temp dir under `workRoot`,
 * `concurrency` at a time; the clones are removed afterwards (outside the timing).
 */
export async function cloneRound(urls: string[], concurrency: number, workRoot: string): Promise<CloneRound> {
  const dir = await mkdtemp(join(workRoot, 'clones-'));
  const env = {
    PATH: process.env['PATH'],
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    LC_ALL: 'C',
  };
  let next = 0;
  let sumCloneMs = 0;
  const cpuBefore = processCpu('self');
  const start = performance.now();
  const worker = async (): Promise<void> => {
    for (let i = next++; i < urls.length; i = next++) {
      const t = performance.now();
      await run('git', ['clone', '-q', '--depth', '1', '--branch', 'main', urls[i]!, join(dir, String(i))], {
        env,
      });
      sumCloneMs += performance.now() - t;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const wallMs = performance.now() - start;
  const cpu = cpuSince(cpuBefore, processCpu('self'));
  await rm(dir, { recursive: true, force: true });
  return { wallMs, cpu, sumCloneMs };
}
