import type { ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from './eventually.ts';
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
  if (options.waitRunning !== false) await waitForOutput(operator, /kedge is running|waiting to lead|leader/);
  return operator;
}

/** Waits until the process printed something matching `pattern`; fails early, with its output, if it exits. */
export async function waitForOutput(
  process: OperatorProcess,
  pattern: RegExp,
  timeoutMs = 180_000,
): Promise<void> {
  await eventually(
    () => {
      if (pattern.test(process.output())) return true;
      if (process.exitCode !== null)
        throw new Error(`kedge up exited (${process.exitCode}):\n${process.output()}`);
      throw new Error(`no line matching ${pattern} yet; output so far:\n${process.output().slice(-3000)}`);
    },
    { timeoutMs, what: `kedge up to print ${pattern}` },
  );
}
