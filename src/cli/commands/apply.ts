import type { Command } from 'commander';
import type { KObject } from '../../api/meta.ts';
import type { ApplyResult, Store } from '../../store/store.ts';
import { addStoreOptions, globalOptions, withStore } from '../global-options.ts';

/** `kedge apply -f FILE|DIR ...`: validate every document first, then store them all. */
export function registerApplyCommand(program: Command): void {
  addStoreOptions(program.command('apply'))
    .description('create or update objects from YAML files or directories')
    .requiredOption('-f, --filename <path...>', 'files or directories (recursive) of YAML manifests')
    .action(async (opts: { filename: string[] }, command: Command) => {
      const { loadManifests } = await import('../../api/manifest.ts');
      const objects = await loadManifests(opts.filename);
      await withStore(globalOptions(command), async (store) => {
        for (const line of await applyObjects(store, objects)) process.stdout.write(`${line}\n`);
      });
    });
}

/** Applies validated objects in order; returns kubectl-style lines (`gitrepository/podinfo created`). */
export async function applyObjects(store: Store, objects: KObject[]): Promise<string[]> {
  const lines: string[] = [];
  for (const object of objects) {
    const { result } = await store.apply(object);
    lines.push(describeApply(object, result));
  }
  return lines;
}

function describeApply(object: KObject, result: ApplyResult): string {
  return `${object.kind.toLowerCase()}/${object.metadata.name} ${result}`;
}
