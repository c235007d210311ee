import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

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
