import type { Command } from 'commander';
import { CanaryAbortAnnotation, CanaryPromoteAnnotation } from '../../api/app-canary.ts';
import type { App } from '../../api/app.ts';
import { CliError } from '../cli-error.ts';
import { addStoreOptions, globalOptions, withStore } from '../global-options.ts';
import { mark } from '../output/style.ts';
import { mutate } from '../reconcile-request.ts';

/**
 * `kedge promote app NAME` (skip the canary's remaining steps: the rolling update starts) and `kedge abort
 * app NAME` (roll the canary back by hand). Each sets an annotation to a fresh token that the App reconciler
 * acts on once; both refuse an App with no canary in progress.
 */
export function registerCanaryCommands(program: Command): void {
  for (const [verb, annotation, description] of [
    ['promote', CanaryPromoteAnnotation, "skip the canary's remaining steps and roll the new revision out"],
    ['abort', CanaryAbortAnnotation, 'roll the canary back: all traffic on the stable revision'],
  ] as const) {
    addStoreOptions(
      program
        .command(verb)
        .description(`${verb} a canary release`)
        .command('app <name>')
        .description(description),
    )
      .option('-n, --namespace <ns>', 'namespace', 'default')
      .action(async (name: string, opts: { namespace: string }, command: Command) => {
        const ref = { kind: 'App', namespace: opts.namespace, name };
        await withStore(globalOptions(command), async (store) => {
          const app = (await store.get(ref)) as App | undefined;
          if (!app) throw new CliError(`App '${opts.namespace}/${name}' not found`);
          const phase = app.status?.canary?.phase;
          const acting =
            verb === 'promote' ? phase === 'Progressing' || phase === 'Failed' : phase === 'Progressing';
          if (!acting) {
            throw new CliError(
              `App '${opts.namespace}/${name}' has no canary to ${verb}${phase ? ` (its last canary is ${phase})` : ''}`,
            );
          }
          const token = new Date().toISOString();
          await mutate(store, ref, (object) => {
            object.metadata.annotations = { ...object.metadata.annotations, [annotation]: token };
          });
        });
        process.stdout.write(`${mark.success(`${verb} of app ${name} requested`)}\n`);
      });
  }
}
