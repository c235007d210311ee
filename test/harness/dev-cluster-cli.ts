/**
 * Test-only CLI entry with nothing but the dev-cluster commands:
 * `node --import tsx test/harness/dev-cluster-cli.ts dev cluster up --dir DIR`.
 * Mirrors the real entry point's contract: errors print `error: <message>` on stderr and exit 1.
 */
import { Command } from 'commander';
import { registerDevClusterCommands } from '../../src/cli/commands/dev-cluster.ts';

const program = new Command('kedge');
registerDevClusterCommands(program);
try {
  await program.parseAsync(process.argv);
} catch (error) {
  process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
}
