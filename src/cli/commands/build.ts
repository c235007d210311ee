import { execFileSync } from 'node:child_process';
import path from 'node:path';
import type { Command } from 'commander';
import type { Kustomization } from '../../api/kustomization.ts';
import type { KObject } from '../../api/meta.ts';
import type { Store } from '../../store/store.ts';
import { CliError } from '../cli-error.ts';
import { globalOptions, withStore } from '../global-options.ts';

/** `kedge build kustomization NAME --path DIR`: render DIR as the Kustomization would, print YAML, apply nothing. */
export function registerBuildCommand(program: Command): void {
  program
    .command('build')
    .description('render a Kustomization locally and print the objects')
    .command('kustomization <name>')
    .alias('ks')
    .requiredOption('--path <dir>', 'local directory to render in place of the source artifact')
    .option('-n, --namespace <ns>', 'namespace', 'default')
    .action(async (name: string, opts: { path: string; namespace: string }, command: Command) => {
      const { stringify } = await import('yaml');
      const objects = await withStore(globalOptions(command), (store) => renderLocally(store, { namespace: opts.namespace, name }, opts.path));
      process.stdout.write(objects.map((o) => stringify(o)).join('---\n'));
    });
}

/**
 * Renders a local directory with the stored Kustomization's overlay and post-build substitutions (read from
 * the store). The directory's git work tree, when there is one, is the root, so `../base` references resolve.
 */
export async function renderLocally(store: Store, ref: { namespace: string; name: string }, dir: string): Promise<KObject[]> {
  const ks = (await store.get({ kind: 'Kustomization', ...ref })) as Kustomization | undefined;
  if (!ks?.spec) throw new CliError(`Kustomization '${ref.namespace}/${ref.name}' not found`);
  const absolute = path.resolve(dir);
  const root = gitTopLevel(absolute) ?? absolute;
  const [{ renderKustomization }, { renderOptionsOf }] = await Promise.all([
    import('../../kustomize/render.ts'),
    import('../../controllers/kustomization/render-options.ts'),
  ]);
  return renderKustomization(await renderOptionsOf(store, ref.namespace, ks.spec, { root, path: path.relative(root, absolute) }));
}

function gitTopLevel(dir: string): string | undefined {
  try {
    return execFileSync('git', ['rev-parse', '--show-toplevel'], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}
