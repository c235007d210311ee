import { appendFileSync } from 'node:fs';
import { processStartTime } from './process-identity.ts';

/*
 * Test hook. Kedge starts processes that outlive the call that started them: App replicas and setup commands,
 * the dev cluster's supervisor, etcd and kube-apiserver, each leading its own process group. When the
 * environment variable below names a file (the test harness sets it; nothing else does), each of them is
 * appended to that file as one JSON line, so that the harness can stop whatever a failed or timed-out test
 * left running, by recorded pid and start time. Unset, this does nothing.
 */

/** Environment variable naming the JSON-lines file that started process groups are recorded in. */
export const TrackedProcessRegistryEnv = 'KEDGE_TEST_PROCESS_REGISTRY';

/** One line of the registry file: a process group leader, told from a later process with its pid by `startTime`. */
export interface TrackedProcessRecord {
  pid: number;
  /** `/proc/<pid>/stat` start time (see `processStartTime`). */
  startTime: string;
  /** What it is, for the report: `replica default/hello-0`, `etcd`, `kedge up`. */
  name: string;
  /** Pid of the process that started it. */
  recordedBy: number;
  /** The test file that started it, when the harness recorded it itself. */
  testFile?: string;
}

/**
 * Appends the process group led by `pid` to the registry file named by `KEDGE_TEST_PROCESS_REGISTRY`, when
 * that variable is set. Never throws: a test hook must not change what the engine does.
 */
export function recordStartedProcess(pid: number | undefined, name: string): void {
  const file = process.env[TrackedProcessRegistryEnv];
  if (!file || pid === undefined) return;
  const startTime = processStartTime(pid);
  if (startTime === undefined) return;
  const record: TrackedProcessRecord = { pid, startTime, name, recordedBy: process.pid };
  try {
    appendFileSync(file, `${JSON.stringify(record)}\n`);
  } catch {
    // The harness's run directory is gone: nobody is listening.
  }
}
