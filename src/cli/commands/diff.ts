import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import type { Kustomization } from '../../api/kustomization.ts';
import type { KObject } from '../../api/meta.ts';
import type { KubeTarget } from '../../apply/kube-client.ts';
import { objectLabel, type KubeObject } from '../../apply/object-id.ts';
import { CliError } from '../cli-error.ts';
import { globalOptions, withStore } from '../global-options.ts';
import { mark } from '../output/style.ts';
import { DECRYPTION_SECRET_HELP, renderLocally } from './build.ts';
import { registerHelmReleaseDiff } from './diff-helmrelease.ts';

interface DiffOptions {
  path: string;
  decryptionSecret?: string;
  namespace: string;
  kubeconfig?: string;
  context?: string;
}

/**
 * `kedge diff kustomization NAME --path DIR [--kubeconfig F] [--context C]`: renders DIR as the Kustomization
 * would, server-side dry-runs every object against the cluster and prints what would be created, changed (a
 * unified diff; Secrets' values are never printed) or pruned. Exit code 1 when there are differences.
 */
export function registerDiffCommand(program: Command): void {
  const diff = program
    .command('diff')
    .description('show what applying a Kustomization or upgrading a HelmRelease would change in the cluster');
  registerHelmReleaseDiff(diff);
  diff
    .command('kustomization <name>')
    .alias('ks')
    .requiredOption('--path <dir>', 'local directory to render in place of the source artifact')
    .option('-n, --namespace <ns>', 'namespace', 'default')
    .option('--kubeconfig <file>', 'kubeconfig file (default $KUBECONFIG, else ~/.kube/config)')
    .option('--context <name>', 'kubeconfig context to use')
    .option('--decryption-secret <file>', DECRYPTION_SECRET_HELP)
    .action(async (name: string, opts: DiffOptions, command: Command) => {
      const { objects, ks } = await withStore(globalOptions(command, { kubeconfigSelectsStore: false }), async (store) => ({
        objects: await renderLocally(store, { namespace: opts.namespace, name }, opts.path, opts.decryptionSecret),
        ks: (await store.get({ kind: 'Kustomization', namespace: opts.namespace, name })) as Kustomization,
      }));
      const file = opts.kubeconfig ?? process.env.KUBECONFIG?.split(path.delimiter)[0] ?? path.join(homedir(), '.kube', 'config');
      // The Kubernetes client is heavy: only this command (and the engine, for a cluster) loads it.
      const { KubeTarget, kubeConfigFromFile } = await import('../../apply/kube-client.ts');
      const kubeConfig = kubeConfigFromFile(file);
      if (opts.context) {
        if (!kubeConfig.getContextObject(opts.context)) throw new CliError(`context '${opts.context}' not found in ${file}`);
        kubeConfig.setCurrentContext(opts.context);
      }
      const target = new KubeTarget(kubeConfig);
      try {
        const lines = await diffObjects(target, ks, objects);
        if (lines.length > 0) {
          process.stdout.write(`${lines.join('\n')}\n`);
          process.exitCode = 1;
        }
      } finally {
        target.close();
      }
    });
}

async function diffObjects(target: KubeTarget, ks: Kustomization, objects: KObject[]): Promise<string[]> {
  const owner = { name: ks.metadata.name, namespace: ks.metadata.namespace ?? 'default' };
  const [{ ApplyManager }, { identityOfEntry }, { stringify }] = await Promise.all([
    import('../../apply/apply-manager.ts'),
    import('../../controllers/kustomization/cluster-target.ts'),
    import('yaml'),
  ]);
  const manager = new ApplyManager(target);
  const out: string[] = [];
  const rendered = new Set<string>();
  for (const object of objects) {
    const diff = await manager.diff(object as KubeObject, { owner });
    rendered.add(diff.id);
    if (diff.action === 'created') out.push(mark.action(`${diff.subject} created`));
    if (diff.action !== 'configured') continue;
    out.push(mark.action(`${diff.subject} drifted`));
    if (diff.ref.kind !== 'Secret') out.push(unifiedDiff(stringify(diff.live), stringify(diff.merged), diff.subject));
  }
  if (ks.spec?.prune) {
    for (const entry of ks.status?.inventory?.entries ?? []) {
      if (!rendered.has(entry.id)) out.push(mark.action(`${objectLabel(identityOfEntry(entry))} deleted`));
    }
  }
  return out;
}

/** `diff -u` of two texts, labelled live/merged. */
export function unifiedDiff(before: string, after: string, subject: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'kedge-diff-'));
  try {
    writeFileSync(path.join(dir, 'live'), before);
    writeFileSync(path.join(dir, 'merged'), after);
    try {
      execFileSync('diff', ['-u', '--label', `${subject} (live)`, '--label', `${subject} (merged)`, 'live', 'merged'], { cwd: dir, encoding: 'utf8' });
      return '';
    } catch (error) {
      return String((error as { stdout?: string }).stdout ?? '').trimEnd();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
