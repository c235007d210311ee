import { Command, CommanderError } from 'commander';
import type { ManifestError } from '../api/manifest.ts';
import { CliError } from './cli-error.ts';
import { registerApplyCommand } from './commands/apply.ts';
import { registerArtifactCommands } from './commands/artifact.ts';
import { registerBuildCommand } from './commands/build.ts';
import { registerCanaryCommands } from './commands/canary.ts';
import { registerCreateSecretCommands } from './commands/create-secret.ts';
import { registerDeleteCommands } from './commands/delete.ts';
import { registerDevClusterCommands } from './commands/dev-cluster.ts';
import { registerDiffCommand } from './commands/diff.ts';
import { registerEventsCommand } from './commands/events.ts';
import { registerGetCommands } from './commands/get.ts';
import { registerHistoryCommands } from './commands/history.ts';
import { registerInstallCommands } from './commands/install.ts';
import { registerLogsCommand } from './commands/logs.ts';
import { registerReconcileCommands } from './commands/reconcile.ts';
import { registerRollbackCommands } from './commands/rollback.ts';
import { registerTreeCommand } from './commands/tree.ts';
import { registerUpCommand } from './commands/up.ts';
import { addGlobalOptions } from './global-options.ts';
import { style } from './output/style.ts';

/**
 * The kedge command line: every command group registers itself here. Registration is cheap: a command imports
 * what it needs (store, engine, schemas, the Kubernetes client) when it runs, so `kedge --version` and
 * `kedge get` load little (keep it so: static imports of a command module are only light ones).
 */
export function buildProgram(): Command {
  const program = new Command('kedge')
    .description('Kedge: pull-based GitOps continuous delivery, a drop-in for Flux')
    .version('0.1.0')
    .exitOverride()
    .showHelpAfterError();
  addGlobalOptions(program);
  registerUpCommand(program);
  registerApplyCommand(program);
  registerGetCommands(program);
  registerReconcileCommands(program);
  registerHistoryCommands(program);
  registerRollbackCommands(program);
  registerCanaryCommands(program);
  registerDeleteCommands(program);
  registerCreateSecretCommands(program);
  registerEventsCommand(program);
  registerLogsCommand(program);
  registerDevClusterCommands(program);
  registerTreeCommand(program);
  registerBuildCommand(program);
  registerDiffCommand(program);
  registerInstallCommands(program);
  registerArtifactCommands(program);
  return program;
}

/** The one top-level catch: typed errors become a plain message and an exit code, never a stack trace. */
async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      process.exitCode = error.exitCode === 0 ? 0 : 2;
      return;
    }
    if (isManifestError(error)) {
      process.stderr.write(`${style.red('✗ invalid manifests:')}\n${error.message}\n`);
      process.exitCode = 1;
      return;
    }
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`${style.red(`✗ ${message}`)}\n`);
    process.exitCode = error instanceof CliError ? error.exitCode : 1;
    if (process.env.KEDGE_DEBUG && error instanceof Error) process.stderr.write(`${error.stack}\n`);
  }
}

/** By name: importing the class would load every kind's schema for every command. */
function isManifestError(error: unknown): error is ManifestError {
  return error instanceof Error && error.name === 'ManifestError';
}

await main(process.argv);
