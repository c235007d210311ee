/**
 * Entry point of the detached supervisor process: `node dist/supervisor-main.js <dir> <binaries-dir>` (a bundle
 * entry; under tests its TypeScript source through tsx). Spawned by `startBackgroundCluster` (through
 * `nodeEntryArgs`); see `runSupervisor` for what it guarantees.
 */
import { runSupervisor } from './supervisor.ts';

const [dir, binariesDir] = process.argv.slice(2);
if (dir === undefined || binariesDir === undefined) {
  process.stderr.write('usage: supervisor-main.ts <cluster-dir> <binaries-dir>\n');
  process.exit(2);
}
try {
  process.exitCode = await runSupervisor(dir, binariesDir);
} catch (error) {
  process.stderr.write(`supervisor failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
}
