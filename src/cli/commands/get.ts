import type { Command } from 'commander';
import { commandAt } from '../command-path.ts';
import { addStoreOptions, globalOptions, withStore } from '../global-options.ts';
import { formatObjects, parseOutputFormat } from '../output/print-objects.ts';
import { resourceTypes, type ResourceType } from '../resource-types.ts';
import { CliError } from '../cli-error.ts';

/** `kedge get sources git [NAME] [-n NS | -A] [-o table|yaml|json]`, and the same for every resource type. */
export function registerGetCommands(program: Command): void {
  const get = program.command('get').description('show objects and their status');
  for (const type of resourceTypes) addGet(get, type);
}

function addGet(get: Command, type: ResourceType): void {
  addStoreOptions(commandAt(get, type.plural, '[name]', `show ${type.kind} objects`, [type.singular], type.shortName))
    .option('-n, --namespace <ns>', 'namespace', 'default')
    .option('-A, --all-namespaces', 'list across all namespaces')
    .option('-o, --output <format>', 'table, wide, yaml or json', 'table')
    .action(async (name: string | undefined, opts: { namespace: string; allNamespaces?: boolean; output: string }, command: Command) => {
      const format = parseOutputFormat(opts.output);
      const allNamespaces = opts.allNamespaces === true && name === undefined;
      const objects = await withStore(globalOptions(command), async (store) => {
        if (name !== undefined) {
          const object = await store.get({ kind: type.kind, namespace: opts.namespace, name });
          if (!object) throw new CliError(`${type.kind} '${opts.namespace}/${name}' not found`);
          return [object];
        }
        return store.list(type.kind, allNamespaces ? {} : { namespace: opts.namespace });
      });
      if (objects.length === 0 && (format === 'table' || format === 'wide')) {
        process.stderr.write(`no ${type.kind} objects found${allNamespaces ? '' : ` in namespace ${opts.namespace}`}\n`);
        return;
      }
      process.stdout.write(`${await formatObjects(objects, type, format, { single: name !== undefined, allNamespaces })}\n`);
    });
}
