import type { Command } from 'commander';
import type { Kustomization } from '../../api/kustomization.ts';
import { parseObjectId } from '../../apply/object-id.ts';
import type { Store } from '../../store/store.ts';
import { CliError } from '../cli-error.ts';
import { addStoreOptions, globalOptions, withStore } from '../global-options.ts';

/** One node of the tree: `Kind/namespace/name` and what it applied. */
interface TreeNode {
  label: string;
  children: TreeNode[];
}

/**
 * `kedge tree kustomization|helmrelease NAME [-n NS]`: the inventory as a tree, nested Kustomizations expanded,
 * as `flux tree` (a HelmRelease's inventory is its release's objects).
 */
export function registerTreeCommand(program: Command): void {
  const group = program.command('tree').description('print the objects a Kustomization or HelmRelease applied, as a tree');
  addStoreOptions(group.command('kustomization <name>'))
    .alias('ks')
    .option('-n, --namespace <ns>', 'namespace', 'default')
    .action(async (name: string, opts: { namespace: string }, command: Command) => {
      const tree = await withStore(globalOptions(command), async (store) => {
        const root = (await store.get({ kind: 'Kustomization', namespace: opts.namespace, name })) as Kustomization | undefined;
        if (!root) throw new CliError(`Kustomization '${opts.namespace}/${name}' not found`);
        return buildTree(store, root, new Set());
      });
      process.stdout.write(`${renderTree(tree).join('\n')}\n`);
    });
  addStoreOptions(group.command('helmrelease <name>'))
    .alias('hr')
    .option('-n, --namespace <ns>', 'namespace', 'default')
    .action(async (name: string, opts: { namespace: string }, command: Command) => {
      const tree = await withStore(globalOptions(command), async (store) => {
        const root = (await store.get({ kind: 'HelmRelease', namespace: opts.namespace, name })) as Kustomization | undefined;
        if (!root) throw new CliError(`HelmRelease '${opts.namespace}/${name}' not found`);
        return buildTree(store, root, new Set());
      });
      process.stdout.write(`${renderTree(tree).join('\n')}\n`);
    });
}

async function buildTree(store: Store, ks: Kustomization, seen: Set<string>): Promise<TreeNode> {
  const namespace = ks.metadata.namespace ?? 'default';
  const label = `${ks.kind}/${namespace}/${ks.metadata.name}`;
  seen.add(label);
  const children: TreeNode[] = [];
  for (const entry of ks.status?.inventory?.entries ?? []) {
    const id = parseObjectId(entry.id);
    const childLabel = id.namespace ? `${id.kind}/${id.namespace}/${id.name}` : `${id.kind}/${id.name}`;
    const nested =
      id.kind === 'Kustomization' && !seen.has(childLabel)
        ? ((await store.get({ kind: 'Kustomization', namespace: id.namespace || 'default', name: id.name })) as Kustomization | undefined)
        : undefined;
    children.push(nested ? await buildTree(store, nested, seen) : { label: childLabel, children: [] });
  }
  return { label, children };
}

/** Lines with box-drawing branches, as `flux tree` prints them. */
export function renderTree(node: TreeNode, prefix = '', last = true, root = true): string[] {
  const lines = [root ? node.label : `${prefix}${last ? '└── ' : '├── '}${node.label}`];
  const childPrefix = root ? '' : `${prefix}${last ? '    ' : '│   '}`;
  node.children.forEach((child, i) => lines.push(...renderTree(child, childPrefix, i === node.children.length - 1, false)));
  return lines;
}
