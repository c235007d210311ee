import type { Command } from 'commander';
import type { HistoryEntry } from '../../api/history.ts';
import { CliError } from '../cli-error.ts';
import { addStoreOptions, globalOptions, withStore } from '../global-options.ts';
import { parseOutputFormat } from '../output/print-objects.ts';
import { formatTable } from '../output/table.ts';

interface Options {
  namespace: string;
  output: string;
}

const KINDS = [
  { kind: 'Kustomization', word: 'kustomization', shortName: 'ks' },
  { kind: 'App', word: 'app', shortName: undefined },
] as const;

/** `kedge history kustomization|app NAME`: the recorded reconciles, newest first. */
export function registerHistoryCommands(program: Command): void {
  const history = program
    .command('history')
    .description('show what the reconciles of an object changed, newest first');
  for (const { kind, word, shortName } of KINDS) {
    const leaf = addStoreOptions(history.command(`${word} <name>`).description(`history of a ${kind}`))
      .option('-n, --namespace <ns>', 'namespace', 'default')
      .option('-o, --output <format>', 'table, yaml or json', 'table');
    if (shortName) leaf.alias(shortName);
    leaf.action(async (name: string, opts: Options, command: Command) => {
      const parsed = parseOutputFormat(opts.output);
      const format = parsed === 'wide' ? 'table' : parsed;
      const ref = { kind, namespace: opts.namespace, name };
      await withStore(globalOptions(command), async (store) => {
        const object = await store.get(ref);
        if (!object) throw new CliError(`${kind} '${ref.namespace}/${name}' not found`);
        const entries = await store.listHistory(ref);
        process.stdout.write(`${await formatHistory(entries, format)}\n`);
      });
    });
  }
}

/** The entries as a table (one line each), or as JSON/YAML with everything recorded. */
export async function formatHistory(
  entries: HistoryEntry[],
  format: 'table' | 'json' | 'yaml',
): Promise<string> {
  if (format === 'json') return JSON.stringify(entries, null, 2);
  if (format === 'yaml') {
    const { stringify } = await import('yaml');
    return stringify(entries).trimEnd();
  }
  if (entries.length === 0) return 'no history recorded yet';
  const rows = entries.map((e) => [
    e.time.replace(/\.\d{3}Z$/, 'Z'),
    e.revision + (e.rolledBack ? ' (rolled back)' : ''),
    e.result,
    `${e.durationMs}ms`,
    changeSummary(e),
    e.result === 'Failed' ? e.message.split('\n')[0]! : '',
  ]);
  return formatTable(['TIME', 'REVISION', 'RESULT', 'DURATION', 'CHANGES', 'MESSAGE'], rows);
}

/** `+2 ~1 -0`: created, configured, deleted. */
function changeSummary(entry: HistoryEntry): string {
  const { created, configured, deleted } = entry.changes;
  return `+${created.length} ~${configured.length} -${deleted.length}`;
}
