import { resolve } from 'node:path';

/**
 * Node arguments that run the `kedge` command from its TypeScript sources (`node --import tsx
 * src/cli/main.ts`), so CLI tests exercise the code under test without a rebuild:
 * `spawn(process.execPath, [...KEDGE_CLI, 'get', 'apps'])`. The shipped bundle (`bin/kedge.js` → dist/) is
 * tested by test/cli-built.test.ts. tsx is given as a file URL so it resolves from any working directory.
 */
export const KEDGE_CLI: string[] = [
  '--import',
  import.meta.resolve('tsx'),
  resolve(import.meta.dirname, '../../src/cli/main.ts'),
];
