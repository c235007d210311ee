import type { Command } from 'commander';
import { CliError } from '../cli-error.ts';
import { addStoreOptions, globalOptions, withStore } from '../global-options.ts';
import { mark } from '../output/style.ts';

interface Options {
  namespace: string;
  to?: string;
  steps?: string;
  autoRelease?: boolean;
  release?: boolean;
  git?: boolean;
}

const KINDS = [
  { kind: 'Kustomization', word: 'kustomization', shortName: 'ks' },
  { kind: 'App', word: 'app', shortName: undefined },
] as const;

/**
 * `kedge rollback kustomization|app NAME [--to REV | --steps N] [--auto-release] | --release | --git`: holds the
 * object at an earlier recorded revision (src/rollback), ends the hold, or writes a revert commit.
 */
export function registerRollbackCommands(program: Command): void {
  const rollbackCommand = program
    .command('rollback')
    .description('hold an object at an earlier revision from its history, or release it');
  for (const { kind, word, shortName } of KINDS) {
    const leaf = addStoreOptions(rollbackCommand.command(`${word} <name>`).description(`roll a ${kind} back`))
      .option('-n, --namespace <ns>', 'namespace', 'default')
      .option(
        '--to <revision>',
        'the recorded revision to go back to (full, or a commit prefix of 7+ characters)',
      )
      .option('--steps <n>', 'go back this many distinct revisions (default 1)')
      .option('--release', 'end the hold: follow the source again');
    if (kind === 'Kustomization') {
      leaf
        .option('--auto-release', 'end the hold by itself when a newer revision than the current one lands')
        .option('--git', 'instead of holding, push a commit reverting the source branch to that revision');
    }
    if (shortName) leaf.alias(shortName);
    leaf.action(async (name: string, opts: Options, command: Command) => {
      const ref = { kind, namespace: opts.namespace, name };
      const what = `${word} ${name}`;
      if (opts.release && (opts.to !== undefined || opts.steps !== undefined || opts.git))
        throw new CliError('--release takes no --to, --steps or --git');
      if (opts.to !== undefined && opts.steps !== undefined)
        throw new CliError('give --to or --steps, not both');
      const steps = opts.steps === undefined ? undefined : Number(opts.steps);
      await withStore(globalOptions(command), async (store) => {
        const { rollback, releaseRollback, RollbackError } = await import('../../rollback/rollback.ts');
        try {
          if (opts.release) {
            const released = await releaseRollback(store, ref);
            process.stdout.write(
              `${released ? mark.success(`${what} released: it follows its source again`) : mark.success(`${what} was not rolled back`)}\n`,
            );
            return;
          }
          if (opts.git) {
            const { revertInGit } = await import('../../rollback/git-revert.ts');
            const result = await revertInGit(store, ref, { to: opts.to, steps });
            process.stdout.write(
              `${mark.success(`pushed ${result.commit} to ${result.branch}: reverts ${result.reverted} commit${result.reverted === 1 ? '' : 's'} back to ${result.target}`)}\n`,
            );
            return;
          }
          const { hold, from } = await rollback(store, ref, {
            to: opts.to,
            steps,
            autoRelease: opts.autoRelease,
          });
          process.stdout.write(
            `${mark.success(`${what} rolled back to ${hold.revision}${from ? ` (was ${from})` : ''}`)}\n`,
          );
          const release = hold.autoRelease
            ? 'it is released when a newer revision lands'
            : `release it with 'kedge rollback ${word} ${name}${opts.namespace === 'default' ? '' : ` -n ${opts.namespace}`} --release'`;
          process.stdout.write(
            `${mark.waiting(`held while the source is at ${hold.sourceRevision}; ${release}`)}\n`,
          );
        } catch (error) {
          if (error instanceof RollbackError) throw new CliError(error.message);
          throw error;
        }
      });
    });
  }
}
