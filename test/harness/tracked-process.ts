import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { relative } from 'node:path';
import { expect, onTestFinished } from 'vitest';
import { processStartTime } from '../../src/host/process-identity.ts';
import {
  RunDirEnv,
  TrackedProcessRegistryEnv,
  appendRecord,
  readRecords,
  startedBy,
  stopRecords,
} from './process-registry.ts';

/*
 * Every process a test starts goes through here. `spawnTracked` is `spawn` with two differences: the child
 * leads its own process group (so stopping it stops what it started), and before it returns the child is
 * recorded in the run's registry (pid and /proc start time) and its cleanup is registered. Inside a test the
 * cleanup runs when the test ends, passed, failed or timed out (`onTestFinished`), and also stops what the
 * child recorded through the KEDGE_TEST_PROCESS_REGISTRY hook (an engine's replicas); elsewhere (beforeAll, a
 * server helper) the test file's `afterAll` (test/harness/process-cleanup.ts) and the run's global teardown
 * (test/harness/process-registry-setup.ts) stop whatever is left.
 */

/** When a tracked process's cleanup runs: when the current test ends (default inside a test), or when the test file ends. */
export type CleanupScope = 'test' | 'file';

function testFile(): string {
  const path = expect.getState().testPath;
  return path ? relative(process.cwd(), path) : '(unknown test file)';
}

function describeCommand(command: string, args: readonly string[]): string {
  const shown = [command === process.execPath ? 'node' : command, ...args].map(
    (a) => relative(process.cwd(), a) || a,
  );
  const text = shown.join(' ');
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

function track(child: ChildProcess, name: string, scope: CleanupScope): void {
  const registry = process.env[TrackedProcessRegistryEnv];
  const runDir = process.env[RunDirEnv];
  const pid = child.pid;
  if (!registry || !runDir) {
    child.kill('SIGKILL');
    throw new Error(
      'tracked processes need the process registry of test/harness/process-registry-setup.ts (vitest.config.ts globalSetup)',
    );
  }
  if (pid === undefined) return; // it could not start: its 'error' event says why
  const startTime = processStartTime(pid);
  if (startTime !== undefined)
    appendRecord(registry, { pid, startTime, name, recordedBy: process.pid, testFile: testFile() });
  if (scope !== 'test') return;
  try {
    onTestFinished(async () => {
      await stopRecords(runDir, registry, 'test', startedBy(readRecords(registry), [pid]));
    });
  } catch {
    // Not inside a test (beforeAll, a helper's server): the file's afterAll stops it.
  }
}

/** Returns a `spawn` whose children are tracked with cleanup `scope`. */
export function trackedSpawn(scope: CleanupScope = 'test'): typeof spawn {
  return ((
    command: string,
    argsOrOptions?: readonly string[] | SpawnOptions,
    maybeOptions?: SpawnOptions,
  ) => {
    const args = Array.isArray(argsOrOptions) ? (argsOrOptions as readonly string[]) : [];
    const options =
      (Array.isArray(argsOrOptions) ? maybeOptions : (argsOrOptions as SpawnOptions | undefined)) ?? {};
    const child = spawn(command, args, { ...options, detached: true });
    track(child, describeCommand(command, args), scope);
    return child;
  }) as typeof spawn;
}

/**
 * `child_process.spawn` for tests: the child leads its own process group, is recorded by pid and start time,
 * and is stopped (SIGTERM, grace, SIGKILL, with whatever it recorded) when the current test ends — register
 * nothing else before awaiting it. Outside a test, its test file's end stops it.
 */
export const spawnTracked: typeof spawn = trackedSpawn('test');

/** A finished tracked command. */
export interface TrackedRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Options of {@link runTracked}. */
export interface RunTrackedOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /**
   * Give up after this long: the process group is stopped and the promise rejects naming the command and
   * what it printed. Derive it from what the command waits for (see test/harness/budget.ts).
   */
  timeoutMs?: number;
}

/** Runs a tracked command to its end, collecting its output; resolves whatever its exit code. */
export function runTracked(
  command: string,
  args: readonly string[],
  options: RunTrackedOptions = {},
): Promise<TrackedRun> {
  const child = spawnTracked(command, args, {
    cwd: options.cwd,
    env: options.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            try {
              process.kill(-child.pid!, 'SIGKILL');
            } catch {
              // already gone
            }
            reject(
              new Error(
                `'${describeCommand(command, args)}' did not end within ${options.timeoutMs} ms; stdout:\n${stdout}\nstderr:\n${stderr}`,
              ),
            );
          }, options.timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/**
 * `promisify(execFile)` for tests, tracked: resolves with the output when the command exits 0, else rejects
 * with an error carrying `code`, `stdout` and `stderr`.
 */
export async function execFileTracked(
  command: string,
  args: readonly string[],
  options: RunTrackedOptions = {},
): Promise<{ stdout: string; stderr: string }> {
  const run = await runTracked(command, args, options);
  if (run.code === 0) return { stdout: run.stdout, stderr: run.stderr };
  const how = run.signal ? `was killed by ${run.signal}` : `exited with code ${run.code}`;
  throw Object.assign(new Error(`'${describeCommand(command, args)}' ${how}:\n${run.stderr}`), run);
}
