import type { ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KEDGE_CLI, startKedgeUp } from './kedge-cli.ts';
import { runTracked, type TrackedRun } from './tracked-process.ts';

/** `kubectl` as the tests run it: `KEDGE_KUBECTL`, else the one on PATH. */
export const kubectlBinary = process.env.KEDGE_KUBECTL ?? 'kubectl';

/** Runs kubectl against `kubeconfig`; fails with its output unless it exits 0. */
export async function kubectl(
  kubeconfig: string,
  args: readonly string[],
  timeoutMs = 120_000,
): Promise<string> {
  const run = await runTracked(kubectlBinary, ['--kubeconfig', kubeconfig, ...args], { timeoutMs });
  if (run.code !== 0)
    throw new Error(`kubectl ${args.join(' ')} exited ${run.code}:\n${run.stdout}${run.stderr}`);
  return run.stdout;
}

/** Runs the `kedge` CLI (TypeScript sources) to its end. */
export function kedgeCli(args: readonly string[], timeoutMs = 120_000): Promise<TrackedRun> {
  return runTracked(process.execPath, [...KEDGE_CLI, ...args], {
    env: { ...process.env, NO_COLOR: '1' },
    timeoutMs,
  });
}

/** A `kedge up --store kubernetes` process. */
export type OperatorProcess = ChildProcess & { output: () => string; dataDir: string };

const running = new Set<OperatorProcess>();

/**
 * Stops every operator this file started and not yet stopped (SIGTERM: a graceful stop, as a Deployment's
 * rollout does; the tracked-process cleanup remains the backstop). Call it from `afterEach`.
 */
export async function stopOperators(): Promise<void> {
  await Promise.all([...running].map((p) => stopOperator(p)));
}

/** SIGTERM to one operator; resolves when it has exited. */
export async function stopOperator(process: OperatorProcess): Promise<void> {
  running.delete(process);
  if (process.exitCode !== null || process.signalCode !== null) return;
  const exited = new Promise((resolve) => process.once('exit', resolve));
  process.kill('SIGTERM');
  await exited;
}

/**
 * Starts `kedge up --store kubernetes --kubeconfig F` (a real process, stopped when the test ends) on a fresh
 * data dir, watching only `namespace` when given (the shared control plane also holds other tests' objects),
 * and resolves once it says it is running (its CRDs are then served).
 */
export async function startOperator(
  kubeconfig: string,
  options: { namespace?: string; args?: string[]; dataDir?: string; waitRunning?: boolean } = {},
): Promise<OperatorProcess> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'kedge-operator-'));
  const scope = options.namespace ? ['--watch-all-namespaces=false', '--namespace', options.namespace] : [];
  const child = startKedgeUp(dataDir, [
    '--store',
    'kubernetes',
    '--kubeconfig',
    kubeconfig,
    ...scope,
    ...(options.args ?? []),
  ]);
  const operator = Object.assign(child, { dataDir });
  running.add(operator);
  if (options.waitRunning !== false) await waitForOutput(operator, /kedge is running|waiting to lead|leader/);
  return operator;
}

/** Waits until the process printed something matching `pattern`; fails at once, with its output, if it exits. */
export async function waitForOutput(
  process: OperatorProcess,
  pattern: RegExp,
  timeoutMs = 180_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(process.output())) {
    if (process.exitCode !== null || process.signalCode !== null)
      throw new Error(
        `kedge up exited (${process.exitCode ?? process.signalCode}) before printing ${pattern}:\n${process.output()}`,
      );
    if (Date.now() > deadline)
      throw new Error(
        `kedge up printed nothing matching ${pattern} within ${timeoutMs} ms:\n${process.output().slice(-3000)}`,
      );
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
