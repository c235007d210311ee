import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { processStartTime } from '../../src/host/process-identity.ts';
import {
  RunDirEnv,
  TrackedProcessRegistryEnv,
  describeStop,
  readStopReports,
  registryFileOf,
  registryFiles,
  stopRecords,
} from './process-registry.ts';

/**
 * Vitest global setup, listed first so that its teardown runs last: creates the run directory of the process
 * registry and names it to the workers (KEDGE_TEST_RUN_DIR, inherited), records what global setup itself starts
 * (the shared control plane), and at teardown stops every recorded process group still running — by recorded
 * pid and start time, never by name — then reports on stderr every process any cleanup had to stop, naming
 * the test file that started it. A detached reaper (test/harness/process-reaper.ts) does the same should
 * vitest end without running this teardown.
 */
export default function setup(): () => Promise<void> {
  const runDir = mkdtempSync(join(tmpdir(), 'kedge-test-run-'));
  process.env[RunDirEnv] = runDir;
  process.env[TrackedProcessRegistryEnv] = registryFileOf(runDir, '(global setup)');
  // Should vitest end without running the teardown below, the reaper does its job.
  const reaper = join(import.meta.dirname, 'process-reaper.ts');
  spawn(
    process.execPath,
    ['--import', 'tsx', reaper, runDir, String(process.pid), processStartTime(process.pid) ?? ''],
    {
      detached: true,
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  ).unref();
  return async () => {
    await Promise.all(registryFiles(runDir).map((file) => stopRecords(runDir, file, 'run')));
    const reports = readStopReports(runDir);
    if (reports.length > 0) {
      const lines = reports.map((report) => `  ${describeStop(report)}`).join('\n');
      process.stderr.write(
        `[process-cleanup] ${reports.length} process group(s) outlived their owner and were stopped:\n${lines}\n`,
      );
    }
    rmSync(runDir, { recursive: true, force: true });
  };
}
