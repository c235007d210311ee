import type { Command } from 'commander';
import { createInterface } from 'node:readline/promises';
import { CliError } from '../cli-error.ts';
import { commandAt } from '../command-path.ts';
import { addStoreOptions, globalOptions, withStore } from '../global-options.ts';
import { mark } from '../output/style.ts';
import { resourceTypes } from '../resource-types.ts';

/** `kedge delete source git NAME [-s]`: asks first on a terminal, as flux does. */
export function registerDeleteCommands(program: Command): void {
  const del = program.command('delete').description('delete objects from the store');
  for (const type of resourceTypes) {
    addStoreOptions(commandAt(del, type.singular, '<name>', `delete a ${type.kind}`, [], type.shortName))
      .option('-n, --namespace <ns>', 'namespace', 'default')
      .option('-s, --silent', 'do not ask for confirmation')
      .action(async (name: string, opts: { namespace: string; silent?: boolean }, command: Command) => {
        const what = `${type.singular.join(' ')} ${name}`;
        if (!opts.silent && process.stdin.isTTY && !(await confirm(`Are you sure you want to delete ${what}`))) {
          throw new CliError('aborting');
        }
        const existed = await withStore(globalOptions(command), (store) =>
          store.delete({ kind: type.kind, namespace: opts.namespace, name }),
        );
        if (!existed) throw new CliError(`${type.kind} '${opts.namespace}/${name}' not found`);
        process.stdout.write(`${mark.success(`${what} deleted`)}\n`);
      });
  }
}

async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N]: `)).trim());
  } finally {
    rl.close();
  }
}
