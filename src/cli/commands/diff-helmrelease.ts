import path from 'node:path';
import type { Command } from 'commander';
import type { HelmRelease } from '../../api/helmrelease.ts';
import { CliError } from '../cli-error.ts';
import { globalOptions, withStore } from '../global-options.ts';
import { mark } from '../output/style.ts';
import { unifiedDiff } from './diff.ts';

/**
 * `kedge diff helmrelease NAME [--kubeconfig F] [--context C]`: what the next upgrade would change (the chart
 * and values the HelmRelease has now, through `helm upgrade --dry-run=server`) against the deployed release,
 * object by object; Secrets' values are never printed. Exit code 1 when there are differences.
 */
export function registerHelmReleaseDiff(diff: Command): void {
  diff
    .command('helmrelease <name>')
    .alias('hr')
    .option('-n, --namespace <ns>', 'namespace', 'default')
    .option('--kubeconfig <file>', 'kubeconfig file (default $KUBECONFIG, else ~/.kube/config)')
    .option('--context <name>', 'kubeconfig context to use')
    .action(
      async (
        name: string,
        opts: { namespace: string; kubeconfig?: string; context?: string },
        command: Command,
      ) => {
        const options = globalOptions(command, { kubeconfigSelectsStore: false });
        const { previewUpgrade } = await import('../../controllers/helmrelease/upgrade-preview.ts');
        const changes = await withStore(options, async (store) => {
          const hr = (await store.get({ kind: 'HelmRelease', namespace: opts.namespace, name })) as
            HelmRelease | undefined;
          if (!hr) throw new CliError(`HelmRelease '${opts.namespace}/${name}' not found`);
          return previewUpgrade(store, hr, {
            artifactRoot: path.join(options.dataDir, 'artifacts'),
            cluster: { kubeconfig: opts.kubeconfig, context: opts.context },
          });
        });
        const lines: string[] = [];
        for (const change of changes) {
          lines.push(
            mark.action(`${change.subject} ${change.action === 'configured' ? 'drifted' : change.action}`),
          );
          if (change.action === 'configured')
            lines.push(unifiedDiff(change.before!, change.after!, change.subject));
        }
        if (lines.length > 0) {
          process.stdout.write(`${lines.join('\n')}\n`);
          process.exitCode = 1;
        }
      },
    );
}
