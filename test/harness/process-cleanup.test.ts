import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { processStartTime } from '../../src/host/process-identity.ts';
import { measureStartMs, startsBudgetMs } from './budget.ts';
import { StopGraceMs } from './process-registry.ts';
import { runTracked, type TrackedRun } from './tracked-process.ts';

const root = resolve(import.meta.dirname, '../..');
const fixtures = join(root, 'test/fixtures/process-cleanup');
const vitest = join(root, 'node_modules/vitest/vitest.mjs');

/** One start of a tsx process here and now: the inner runs start vitest, its workers and the stubborn processes. */
const tsxStartMs = await measureStartMs(['--import', 'tsx', '-e', '']);

interface Proof {
  pid: number;
  startTime: string;
}

/**
 * Runs the fixture files in an inner vitest run whose budget is what it waits for: `starts` tsx starts
 * (vitest, its reaper, one worker per file, the stubborn processes), plus, per cleanup stage that has to kill,
 * one grace period and 5 s to see SIGKILL work. Each stubborn process writes a proof (pid and start time) once
 * it ignores SIGTERM; a cleanup registered before the run kills them should the harness under test fail to.
 */
function innerBudgetMs(starts: number, killStages: number): number {
  return startsBudgetMs(starts, tsxStartMs, killStages * (StopGraceMs + 5_000));
}

async function innerRun(
  files: string[],
  budgetMs: number,
): Promise<{ run: TrackedRun; proofs: Record<string, Proof> }> {
  const proofDir = mkdtempSync(join(tmpdir(), 'kedge-cleanup-proof-'));
  const proofs = (): Record<string, Proof> =>
    Object.fromEntries(
      readdirSync(proofDir).map((f) => [
        f.replace(/\.json$/, ''),
        JSON.parse(readFileSync(join(proofDir, f), 'utf8')) as Proof,
      ]),
    );
  onTestFinished(() => {
    for (const proof of Object.values(proofs()))
      if (processStartTime(proof.pid) === proof.startTime) process.kill(proof.pid, 'SIGKILL');
    rmSync(proofDir, { recursive: true, force: true });
  });
  // Starts, plus the stop at a test's end: one grace period for a SIGTERM-ignoring process, then SIGKILL.
  const hookTimeoutMs = startsBudgetMs(2, tsxStartMs, StopGraceMs + 5_000);
  const run = await runTracked(
    process.execPath,
    [vitest, 'run', '--config', join(fixtures, 'vitest.config.ts'), ...files],
    {
      cwd: root,
      env: {
        ...process.env,
        KEDGE_CLEANUP_PROOF_DIR: proofDir,
        KEDGE_CLEANUP_PROOF_HOOK_TIMEOUT_MS: String(hookTimeoutMs),
      },
      timeoutMs: budgetMs,
    },
  );
  return { run, proofs: proofs() };
}

const alive = (proof: Proof | undefined): boolean =>
  proof !== undefined && processStartTime(proof.pid) === proof.startTime;
const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const stopLine = (file: string, pid: number | undefined, when: string): RegExp =>
  new RegExp(
    `${escape(`test/fixtures/process-cleanup/${file}: pid ${pid}`)} \\(.*\\) was still running ${when}; ignored SIGTERM, killed by SIGKILL`,
  );

describe('process cleanup (test harness)', () => {
  // times-out: 1 file worker + 1 stubborn; fails: 1 worker + 2 stubborn; vitest and its reaper: 2 starts.
  const leftBudgetMs = innerBudgetMs(7, 2);
  it(
    'stops, by recorded pid, SIGTERM-ignoring processes that a failed and a timed-out test left, with what they started',
    async () => {
      const { run, proofs } = await innerRun(['times-out.fixture.ts', 'fails.fixture.ts'], leftBudgetMs);
      const output = run.stdout + run.stderr;
      expect(run.code, output).toBe(1);
      expect(output).toContain('Test timed out in 500ms');
      expect(output).toContain('failing on purpose');
      expect(Object.keys(proofs).sort()).toEqual(['fails', 'fails-grandchild', 'times-out']);
      expect(Object.entries(proofs).filter(([, proof]) => alive(proof))).toEqual([]);
      expect(output).toMatch(stopLine('fails.fixture.ts', proofs['fails']?.pid, 'after its test ended'));
      expect(output).toMatch(
        stopLine('fails.fixture.ts', proofs['fails-grandchild']?.pid, 'after its test ended'),
      );
      expect(output).toMatch(
        stopLine('times-out.fixture.ts', proofs['times-out']?.pid, 'after its test file ended'),
      );
    },
    leftBudgetMs + 5_000,
  );

  // vitest, its reaper, 1 worker, 1 stubborn.
  const diedBudgetMs = innerBudgetMs(4, 1);
  it(
    'stops what a test file left when its worker died before any cleanup of its own could run',
    async () => {
      const { run, proofs } = await innerRun(['worker-dies.fixture.ts'], diedBudgetMs);
      const output = run.stdout + run.stderr;
      expect(run.code, output).not.toBe(0);
      expect(Object.keys(proofs)).toEqual(['worker-dies']);
      expect(alive(proofs['worker-dies'])).toBe(false);
      expect(output).toMatch(
        stopLine('worker-dies.fixture.ts', proofs['worker-dies']?.pid, 'at the end of the run'),
      );
    },
    diedBudgetMs + 5_000,
  );
});
