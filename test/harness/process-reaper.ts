/**
 * The run's last line of defence: `node --import tsx process-reaper.ts <runDir> <vitestPid> <vitestStartTime>`,
 * started detached by test/harness/process-registry-setup.ts. When the vitest process ends without its global
 * teardown having removed the run directory (vitest crashed, was killed, lost a worker), it stops every
 * recorded process group still running and reports them on stderr; once the directory is gone it just exits.
 */
import { existsSync, rmSync } from 'node:fs';
import { processStartTime } from '../../src/host/process-identity.ts';
import { describeStop, readStopReports, registryFiles, stopRecords } from './process-registry.ts';

const [runDir, pid, startTime] = process.argv.slice(2);
if (!runDir || !pid || !startTime)
  throw new Error('usage: process-reaper.ts <runDir> <vitestPid> <vitestStartTime>');

while (existsSync(runDir) && processStartTime(Number(pid)) === startTime)
  await new Promise((resolve) => setTimeout(resolve, 250));
if (existsSync(runDir)) {
  await Promise.all(registryFiles(runDir).map((file) => stopRecords(runDir, file, 'run')));
  const reports = readStopReports(runDir);
  const lines = reports.map((report) => `  ${describeStop(report)}\n`).join('');
  process.stderr.write(
    `[process-cleanup] vitest (pid ${pid}) ended without its teardown; ${reports.length} process group(s) were stopped:\n${lines}`,
  );
  rmSync(runDir, { recursive: true, force: true });
}
