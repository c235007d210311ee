import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { DevClusterError } from './dev-cluster-error.ts';
import { writePidFile } from './pid-file.ts';
import { stopProcessGroup } from '../host/process-identity.ts';
import { recordStartedProcess } from '../host/tracked-process-hook.ts';

/** How a supervised process ended. */
export interface ProcessExit {
  name: string;
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A control-plane process that answered its readiness probe. */
export interface ControlPlaneProcess {
  name: string;
  /** Also the process group id: the process leads its own group. */
  pid: number;
  logFile: string;
  /** Resolves when the process ends, for whatever reason. */
  exited: Promise<ProcessExit>;
  /** Ends the whole process group (SIGTERM, then SIGKILL after 10 s); resolves when it is gone. */
  stop(): Promise<void>;
}

/** What to start and how to know it is ready. */
export interface ControlPlaneProcessSpec {
  name: string;
  binary: string;
  args: string[];
  /** stdout and stderr are appended here, written by the process itself (no pipe through Node). */
  logFile: string;
  pidFile: string;
  /** Environment of the process. Default: this process's. */
  env?: NodeJS.ProcessEnv;
  /** Resolves true once the process serves; thrown errors count as "not yet". */
  ready: () => Promise<boolean>;
  timeoutMs?: number;
}

/**
 * Starts `binary` as the leader of a new process group with a pid file, and waits for `ready`. If the
 * process exits or is not ready within `timeoutMs` (default 60 s), its group is stopped and a
 * `DevClusterError` quoting the end of its log is thrown.
 */
export async function startControlPlaneProcess(spec: ControlPlaneProcessSpec): Promise<ControlPlaneProcess> {
  const log = openSync(spec.logFile, 'a');
  const child = (() => {
    try {
      return spawn(spec.binary, spec.args, { detached: true, stdio: ['ignore', log, log], env: spec.env });
    } finally {
      closeSync(log);
    }
  })();
  const exited = new Promise<ProcessExit>((resolve) => {
    child.once('exit', (code, signal) => resolve({ name: spec.name, code, signal }));
    child.once('error', () => resolve({ name: spec.name, code: null, signal: null }));
  });
  const pid = child.pid;
  recordStartedProcess(pid, spec.name);
  if (pid === undefined) {
    await exited;
    throw new DevClusterError('ProcessFailed', `cannot start ${spec.name} from ${spec.binary}`);
  }
  await writePidFile(spec.pidFile, pid);
  const stop = (): Promise<void> => stopProcessGroup(pid);
  const outcome = await Promise.race([
    exited.then((exit) => ({ exit })),
    waitReady(spec.ready, spec.timeoutMs ?? 60_000).then((ready) => ({ ready })),
  ]);
  if ('ready' in outcome && outcome.ready)
    return { name: spec.name, pid, logFile: spec.logFile, exited, stop };
  await stop();
  const why =
    'exit' in outcome
      ? `exited (code ${outcome.exit.code}, signal ${outcome.exit.signal})`
      : `was not ready within ${(spec.timeoutMs ?? 60_000) / 1000} s`;
  throw new DevClusterError(
    'exit' in outcome ? 'ProcessFailed' : 'NotReady',
    `${spec.name} ${why}; last lines of ${spec.logFile}:\n${await logTail(spec.logFile)}`,
  );
}

async function waitReady(ready: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await ready().catch(() => false)) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}

/** The last `lines` lines of a log file (empty when it cannot be read). */
export async function logTail(file: string, lines = 20): Promise<string> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}
