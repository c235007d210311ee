import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const KEDGE_BIN = fileURLToPath(new URL('../../bin/kedge.js', import.meta.url));

/** A `kedge` CLI process started by the benchmark. */
export interface KedgeProcess {
  child: ChildProcess;
  pid: number;
  /** Resolves with the exit code (or signal name) when the process ends. */
  exited: Promise<number | string>;
  /** SIGTERM (graceful stop), then waits for exit; SIGKILL after 20 s. */
  stop(): Promise<void>;
}

/** Runs `node bin/kedge.js --data-dir DIR --log-level warn ARGS…` with its output discarded. */
export function startKedge(dataDir: string, args: string[]): KedgeProcess {
  const child = spawn(process.execPath, [KEDGE_BIN, '--data-dir', dataDir, '--log-level', 'warn', ...args], {
    stdio: 'ignore',
    env: { ...process.env, NO_COLOR: '1' },
  });
  if (child.pid === undefined) throw new Error('could not start kedge');
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  );
  return {
    child,
    pid: child.pid,
    exited,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** `kedge_reconcile_total{kind="GitRepository",result="success"}` from a metrics endpoint (0 when unreachable). */
export async function gitRepositorySuccesses(metricsUrl: string): Promise<number> {
  const text = await fetch(`${metricsUrl}/metrics`)
    .then((r) => r.text())
    .catch(() => '');
  const line = text
    .split('\n')
    .find(
      (l) =>
        l.startsWith('kedge_reconcile_total{') &&
        l.includes('kind="GitRepository"') &&
        l.includes('result="success"'),
    );
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

/** Polls `check` every 100 ms until it returns true; throws after `timeoutMs`. */
export async function until(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
