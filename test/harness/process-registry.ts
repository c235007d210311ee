import { appendFileSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { TrackedProcessRegistryEnv, type TrackedProcessRecord } from '../../src/host/tracked-process-hook.ts';
import { processStat } from '../../src/host/process-identity.ts';

/*
 * The test run's registry of started processes. Global setup creates a run directory and names it in
 * KEDGE_TEST_RUN_DIR; each test file records every process group it starts (and, through the
 * KEDGE_TEST_PROCESS_REGISTRY hook, every replica, setup command and dev-cluster process an engine or CLI under
 * test starts) in its own JSON-lines file there. Cleanup stops a recorded group only while its leader is the
 * very process recorded (pid and /proc start time), or, once the leader is gone, the members of its group that
 * started after it: never a recycled pid, never by name.
 */

export { TrackedProcessRegistryEnv, type TrackedProcessRecord };

/** Environment variable naming the run directory that global setup created. */
export const RunDirEnv = 'KEDGE_TEST_RUN_DIR';

/** How long a process group gets between SIGTERM and SIGKILL: an engine stops its replicas in this time. */
export const StopGraceMs = 10_000;

/** Which cleanup stopped a process: the test's own (it ended), its file's `afterAll`, or the run's teardown. */
export type CleanupStage = 'test' | 'file' | 'run';

/** What one cleanup did to one recorded process group. */
export interface StopReport {
  stage: CleanupStage;
  /** The test file whose registry recorded it. */
  testFile: string;
  pid: number;
  name: string;
  /** `SIGTERM` when it ended within the grace period, `SIGKILL` when it had to be killed, `survived` when not even that worked. */
  outcome: 'SIGTERM' | 'SIGKILL' | 'survived';
}

/** The registry file of `testFile` (a path relative to the project root) in `runDir`. */
export function registryFileOf(runDir: string, testFile: string): string {
  const dir = join(runDir, 'processes');
  mkdirSync(dir, { recursive: true });
  return join(dir, `${encodeURIComponent(testFile)}.jsonl`);
}

/** The test file a registry file belongs to. */
export function testFileOfRegistry(file: string): string {
  return decodeURIComponent(basename(file, '.jsonl'));
}

/** Every registry file of the run. */
export function registryFiles(runDir: string): string[] {
  try {
    return readdirSync(join(runDir, 'processes')).map((name) => join(runDir, 'processes', name));
  } catch {
    return [];
  }
}

/** Appends one record (the harness's own spawns; the src hook appends the same format). */
export function appendRecord(file: string, record: TrackedProcessRecord): void {
  appendFileSync(file, `${JSON.stringify(record)}\n`);
}

/** The records of a registry file; a torn last line (a writer killed mid-write) is skipped. */
export function readRecords(file: string): TrackedProcessRecord[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const records: TrackedProcessRecord[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      records.push(JSON.parse(line) as TrackedProcessRecord);
    } catch {
      // torn line
    }
  }
  return records;
}

/** `records` started by any of `roots` (pids), directly or through processes they started, plus those roots. */
export function startedBy(records: TrackedProcessRecord[], roots: number[]): TrackedProcessRecord[] {
  const pids = new Set(roots);
  const chosen = new Set<TrackedProcessRecord>();
  for (let grown = true; grown;) {
    grown = false;
    for (const record of records) {
      if (chosen.has(record) || !(pids.has(record.pid) || pids.has(record.recordedBy))) continue;
      chosen.add(record);
      pids.add(record.pid);
      grown = true;
    }
  }
  return [...chosen];
}

/**
 * The live processes of the recorded group: its leader while it is the recorded process, and the members of
 * its process group that started no earlier. A process group id is not handed out again while any member of
 * the group exists, so members found under it belong to the recorded group. Zombies count as gone.
 */
function liveMembers(record: TrackedProcessRecord): number[] {
  const leader = processStat(record.pid);
  if (leader && leader.startTime !== record.startTime) return []; // pid recycled: the recorded group is gone
  const members: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  for (const entry of entries) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid <= 0) continue;
    const stat = processStat(pid);
    if (!stat || stat.state === 'Z') continue;
    const inGroup = stat.pgrp === record.pid && BigInt(stat.startTime) >= BigInt(record.startTime);
    if (inGroup || (pid === record.pid && stat.startTime === record.startTime)) members.push(pid);
  }
  return members;
}

/** True while any process of the recorded group runs. */
export function isRecordAlive(record: TrackedProcessRecord): boolean {
  return liveMembers(record).length > 0;
}

function signalRecord(record: TrackedProcessRecord, signal: NodeJS.Signals): void {
  const members = liveMembers(record);
  if (members.includes(record.pid) && processStat(record.pid)?.pgrp === record.pid) {
    try {
      process.kill(-record.pid, signal); // the whole group at once, forks in flight included
    } catch {
      // gone meanwhile
    }
  }
  for (const pid of members) {
    try {
      process.kill(pid, signal);
    } catch {
      // gone meanwhile
    }
  }
}

async function waitGone(record: TrackedProcessRecord, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isRecordAlive(record)) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
}

/**
 * Stops the recorded group if any of it still runs: SIGTERM, `graceMs` to end, then SIGKILL. Resolves with
 * what it took, or undefined when nothing of it ran.
 */
export async function stopRecorded(
  record: TrackedProcessRecord,
  graceMs = StopGraceMs,
): Promise<StopReport['outcome'] | undefined> {
  if (!isRecordAlive(record)) return undefined;
  signalRecord(record, 'SIGTERM');
  if (await waitGone(record, graceMs)) return 'SIGTERM';
  signalRecord(record, 'SIGKILL');
  return (await waitGone(record, 5_000)) ? 'SIGKILL' : 'survived';
}

/**
 * Stops every still-running group among `records` of `registryFile` (all of them by default), in parallel,
 * and appends what it did to the run's report (`<runDir>/stopped.jsonl`).
 */
export async function stopRecords(
  runDir: string,
  registryFile: string,
  stage: CleanupStage,
  records = readRecords(registryFile),
): Promise<StopReport[]> {
  const testFile = testFileOfRegistry(registryFile);
  const outcomes = await Promise.all(
    records.map(async (record) => ({ record, outcome: await stopRecorded(record) })),
  );
  const reports: StopReport[] = [];
  for (const { record, outcome } of outcomes) {
    if (outcome === undefined) continue;
    reports.push({
      stage,
      testFile: record.testFile ?? testFile,
      pid: record.pid,
      name: record.name,
      outcome,
    });
  }
  for (const report of reports) appendFileSync(join(runDir, 'stopped.jsonl'), `${JSON.stringify(report)}\n`);
  return reports;
}

/** Everything the run's cleanups had to stop, in order. */
export function readStopReports(runDir: string): StopReport[] {
  return readRecords(join(runDir, 'stopped.jsonl')) as unknown as StopReport[];
}

/** One line per stopped process, for the end-of-run report. */
export function describeStop(report: StopReport): string {
  const how = {
    SIGTERM: 'stopped by SIGTERM',
    SIGKILL: 'ignored SIGTERM, killed by SIGKILL',
    survived: 'SURVIVED SIGKILL',
  }[report.outcome];
  const when = {
    test: 'after its test ended',
    file: 'after its test file ended',
    run: 'at the end of the run',
  }[report.stage];
  return `${report.testFile}: pid ${report.pid} (${report.name}) was still running ${when}; ${how}`;
}
