import { execFileSync } from 'node:child_process';
import path from 'node:path';
import type { Command } from 'commander';
import type { Kustomization } from '../../api/kustomization.ts';
import type { KObject } from '../../api/meta.ts';
import type { SopsKeys } from '../../kustomize/sops/sops-keys.ts';
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
    .option('--decryption-secret <file>', DECRYPTION_SECRET_HELP)
    .action(async (name: string, opts: { path: string; namespace: string; decryptionSecret?: string }, command: Command) => {
      const { stringify } = await import('yaml');
      const objects = await withStore(globalOptions(command), (store) =>
        renderLocally(store, { namespace: opts.namespace, name }, opts.path, opts.decryptionSecret),
      );
      process.stdout.write(objects.map((o) => stringify(o)).join('---\n'));
    });
}

/** Help of `--decryption-secret`, shared by `kedge build` and `kedge diff`. */
export const DECRYPTION_SECRET_HELP =
  "a Secret manifest (YAML) whose '*.agekey' and '*.asc' entries decrypt SOPS-encrypted files, in place of the Secret spec.decryption names";

/**
 * Renders a local directory with the stored Kustomization's overlay, post-build substitutions and decryption keys
 * (read from the store; `decryptionSecret`, a Secret manifest file, replaces the keys). The directory's git work
 * tree, when there is one, is the root, so `../base` references resolve.
 */
export async function renderLocally(
  store: Store,
  ref: { namespace: string; name: string },
  dir: string,
  decryptionSecret?: string,
): Promise<KObject[]> {
  const ks = (await store.get({ kind: 'Kustomization', ...ref })) as Kustomization | undefined;
  if (!ks?.spec) throw new CliError(`Kustomization '${ref.namespace}/${ref.name}' not found`);
  const absolute = path.resolve(dir);
  const root = gitTopLevel(absolute) ?? absolute;
  const [{ renderKustomization }, { renderOptionsOf }] = await Promise.all([
    import('../../kustomize/render.ts'),
    import('../../controllers/kustomization/render-options.ts'),
  ]);
  const decryption = decryptionSecret ? await keysFromFile(decryptionSecret) : undefined;
  return renderKustomization(
    await renderOptionsOf(store, ref.namespace, ks.spec, { root, path: path.relative(root, absolute), decryption }),
  );
}

/** The keys of the first Secret in a manifest file (`data` or `stringData`). */
async function keysFromFile(file: string): Promise<SopsKeys> {
  const [{ readFile }, { parseAllDocuments }, { secretValues }, { sopsKeysFromSecret }] = await Promise.all([
    import('node:fs/promises'),
    import('yaml'),
    import('../../api/core.ts'),
    import('../../kustomize/sops/sops-keys.ts'),
  ]);
  const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new CliError(`cannot read --decryption-secret ${file}: ${error.code ?? error.message}`);
  });
  const secret = parseAllDocuments(text)
    .map((doc) => (doc.errors.length > 0 ? undefined : (doc.toJS() as Record<string, unknown> | null)))
    .find((value) => value?.kind === 'Secret');
  if (!secret) throw new CliError(`--decryption-secret ${file} holds no Secret manifest`);
  const keys = sopsKeysFromSecret(secretValues(secret), `--decryption-secret ${file}`);
  if (keys.age.length + keys.pgp.length === 0) {
    throw new CliError(`--decryption-secret ${file}: the Secret has no '*.agekey' or '*.asc' entry`);
  }
  return keys;
}

function gitTopLevel(dir: string): string | undefined {
  try {
    return execFileSync('git', ['rev-parse', '--show-toplevel'], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}
