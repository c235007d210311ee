import type { ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { spawnTracked } from './tracked-process.ts';

/**
 * Node arguments that run the `kedge` command from its TypeScript sources (`node --import tsx
 * src/cli/main.ts`), so CLI tests exercise the code under test without a rebuild:
 * `spawn(process.execPath, [...KEDGE_CLI, 'get', 'apps'])`. The shipped bundle (`bin/kedge.js` → dist/) is
 * tested by test/cli-built.test.ts. tsx is given as a file URL so it resolves from any working directory
 * (through createRequire: vitest has no `import.meta.resolve`).
 */
export const KEDGE_CLI: string[] = [
  '--import',
  pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href,
  resolve(import.meta.dirname, '../../src/cli/main.ts'),
];

/** `kedge up` flags that put each of the engine's servers on a free loopback port. */
export const FREE_PORT_FLAGS: readonly string[] = [
  '--storage-addr',
  ':0',
  '--metrics-addr',
  ':0',
  '--receiver-addr',
  ':0',
  '--web-addr',
  ':0',
];

/**
 * Starts `kedge up` from the TypeScript sources on `dataDir` with free ports (tracked: stopped when the test
 * ends), with `NO_COLOR` and `env` added to the environment; `output()` is everything it printed so far.
 */
export function startKedgeUp(
  dataDir: string,
  args: readonly string[] = [],
  env: NodeJS.ProcessEnv = {},
): ChildProcess & { output: () => string } {
  const child = spawnTracked(
    process.execPath,
    [...KEDGE_CLI, '--data-dir', dataDir, 'up', ...FREE_PORT_FLAGS, ...args],
    {
      env: { ...process.env, NO_COLOR: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  return Object.assign(child, { output: () => output });
}
