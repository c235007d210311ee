import type { Command } from 'commander';
import { addStoreOptions, globalOptions, withStore } from '../global-options.ts';
import { formatTable } from '../output/table.ts';
import { CliError } from '../cli-error.ts';

/** `kedge events [--for Kind/NAME] [-n NS | -A]`: recorded events, oldest first, as `flux events` shows them. */
export function registerEventsCommand(program: Command): void {
  addStoreOptions(program.command('events'))
    .description('show events recorded by the engine')
    .option('--for <kind/name>', 'only events about this object, e.g. GitRepository/podinfo')
    .option('-n, --namespace <ns>', 'namespace', 'default')
    .option('-A, --all-namespaces', 'events of all namespaces')
    .option('--limit <n>', 'at most this many', '100')
    .action(async (opts: { for?: string; namespace: string; allNamespaces?: boolean; limit: string }, command: Command) => {
      let kind: string | undefined;
      let name: string | undefined;
      if (opts.for) {
        const match = /^([A-Za-z]+)\/([^/]+)$/.exec(opts.for);
        if (!match) throw new CliError(`--for must be Kind/name, e.g. GitRepository/podinfo, not '${opts.for}'`);
        [, kind, name] = match;
      }
      const events = await withStore(globalOptions(command), (store) =>
        store.listEvents({ kind, name, namespace: opts.allNamespaces ? undefined : opts.namespace, limit: Number(opts.limit) }),
      );
      if (events.length === 0) {
        process.stderr.write('no events found\n');
        return;
      }
      const rows = events
        .reverse()
        .map((e) => [
          ...(opts.allNamespaces ? [e.involvedObject.namespace] : []),
          age(e.lastTimestamp),
          e.type,
          e.reason,
          `${e.involvedObject.kind}/${e.involvedObject.name}`,
          e.count > 1 ? `${e.message} (x${e.count})` : e.message,
        ]);
      const headers = [...(opts.allNamespaces ? ['NAMESPACE'] : []), 'LAST SEEN', 'TYPE', 'REASON', 'OBJECT', 'MESSAGE'];
      process.stdout.write(`${formatTable(headers, rows)}\n`);
    });
}

function age(timestamp: string): string {
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(timestamp)) / 1000));
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}m`;
  if (seconds < 172_800) return `${Math.round(seconds / 3600)}h`;
  return `${Math.round(seconds / 86_400)}d`;
}
