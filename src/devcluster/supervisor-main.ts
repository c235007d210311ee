/**
 * Entry point of the detached supervisor process: `node dist/supervisor-main.js <dir> <binaries-dir> [<nodes>]` (a bundle
 * entry; under tests its TypeScript source through tsx). Spawned by `startBackgroundCluster` (through
 * `nodeEntryArgs`); see `runSupervisor` for what it guarantees.
 */
import { runSupervisor } from './supervisor.ts';

const [dir, binariesDir, nodesArg = '0'] = process.argv.slice(2);
const nodes = Number(nodesArg);
if (dir === undefined || binariesDir === undefined || !Number.isInteger(nodes) || nodes < 0) {
  process.stderr.write('usage: supervisor-main.ts <cluster-dir> <binaries-dir> [<nodes>]\n');
  process.exit(2);
}
try {
  process.exitCode = await runSupervisor(dir, binariesDir, nodes);
} catch (error) {
  process.stderr.write(
    `supervisor failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
}
