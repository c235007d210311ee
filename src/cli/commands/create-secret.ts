import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { globalOptions, withStore } from '../global-options.ts';
import { mark } from '../output/style.ts';

/**
 * `kedge create secret receiver NAME [--token T] [-n NS]`: the Secret a Receiver (or an HMAC-signing Provider)
 * reads its `token` from. Without --token a random 32-byte hex token is generated and printed once.
 */
export function registerCreateSecretCommands(program: Command): void {
  const create = program.commands.find((c) => c.name() === 'create') ?? program.command('create').description('create objects');
  const secret = create.commands.find((c) => c.name() === 'secret') ?? create.command('secret').description('create Secrets');
  secret
    .command('receiver <name>')
    .description('create a Secret with a webhook token for a Receiver or a generic-hmac Provider')
    .option('--token <token>', 'the token (default: 32 random bytes, hex)')
    .option('-n, --namespace <ns>', 'namespace', 'default')
    .action(async (name: string, opts: { token?: string; namespace: string }, command: Command) => {
      const token = opts.token ?? randomBytes(32).toString('hex');
      const object = { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: opts.namespace }, stringData: { token } };
      const { result } = await withStore(globalOptions(command), (store) => store.apply(object));
      process.stdout.write(`${mark.action(`Secret/${opts.namespace}/${name} ${result}`)}\n`);
      if (!opts.token) process.stdout.write(`token: ${token}\n`);
    });
}
