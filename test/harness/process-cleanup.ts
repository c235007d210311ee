/**
 * Vitest setup file (runs in each test file's worker before the file): records what this file starts in its
 * own registry file of the run, and after the file's own `afterAll` hooks (hooks run in reverse order, and
 * this one is registered first) stops whatever that file, or an engine it ran, left running.
 */
import { relative } from 'node:path';
import { afterAll, expect } from 'vitest';
import {
  RunDirEnv,
  StopGraceMs,
  TrackedProcessRegistryEnv,
  describeStop,
  registryFileOf,
  stopRecords,
} from './process-registry.ts';

const runDir = process.env[RunDirEnv];
const testPath = expect.getState().testPath;
if (runDir && testPath) {
  const registry = registryFileOf(runDir, relative(process.cwd(), testPath));
  process.env[TrackedProcessRegistryEnv] = registry;
  afterAll(async () => {
    for (const report of await stopRecords(runDir, registry, 'file'))
      process.stderr.write(`[process-cleanup] ${describeStop(report)}\n`);
  }, StopGraceMs + 10_000); // stops run in parallel: one grace period, then SIGKILL and up to 5 s to see them gone
}
