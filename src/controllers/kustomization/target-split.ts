import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { findKind } from '../../api/kinds.ts';
import type { KObject } from '../../api/meta.ts';
import { groupOf } from '../../apply/object-id.ts';

/** Where a rendered object goes: Kedge's store, or a Kubernetes cluster. */
export type TargetName = 'store' | 'cluster';

/** Which targets a Kustomization has. */
export interface TargetConfig {
  /** A cluster is configured (spec.kubeConfig or the engine's --kubeconfig). */
  cluster: boolean;
  /** The cluster comes from `spec.kubeConfig`: then everything goes there, as in Flux. */
  remote: boolean;
  /**
   * Operator mode: Kedge's store is the cluster itself, so everything goes to the cluster — Flux's kinds are
   * server-side applied as custom resources like any other object, as Flux does.
   */
  storeIsCluster?: boolean;
}

/** Some objects have no target; the message names each with its kind and file. */
export class NoTargetError extends Error {
  override name = 'NoTargetError';
  readonly reason = 'ReconciliationFailed';
}

/**
 * The target of an object of `apiVersion`/`kind`, or undefined when none accepts it. With a remote cluster, or
 * in operator mode (the store is the cluster), everything goes to the cluster. Otherwise Kedge's own kinds (sources, Kustomizations, Apps, notifications) go to the
 * store; core ConfigMaps and Secrets go to the cluster when there is one, else to the store (the host
 * runtime reads them); every other kind needs a cluster.
 */
export function targetOf(apiVersion: string, kind: string, config: TargetConfig): TargetName | undefined {
  if (config.remote || config.storeIsCluster) return 'cluster';
  const known = findKind(apiVersion, kind) !== undefined;
  if (known && (groupOf(apiVersion) !== '' || !config.cluster)) return 'store';
  return config.cluster ? 'cluster' : undefined;
}

/**
 * Splits rendered objects between the targets; throws NoTargetError naming every object nobody accepts (then, and
 * only then, the artifact `root` is read, to name their files).
 */
export async function splitTargets(
  objects: KObject[],
  config: TargetConfig,
  where: { root: string | (() => Promise<string>); path: string },
): Promise<Record<TargetName, KObject[]>> {
  const split: Record<TargetName, KObject[]> = { store: [], cluster: [] };
  const orphans: KObject[] = [];
  for (const object of objects) {
    const target = targetOf(object.apiVersion, object.kind, config);
    if (target) split[target].push(object);
    else orphans.push(object);
  }
  if (orphans.length > 0) {
    const root = typeof where.root === 'string' ? where.root : await where.root();
    const files = await sourceFiles(root, where.path);
    const names = orphans.map((o) => {
      const file = files.get(`${o.kind}/${o.metadata.name}`) ?? files.get(o.kind);
      return `${o.kind} '${o.metadata.name}'${file ? ` (${file})` : ''}`;
    });
    throw new NoTargetError(
      `no target accepts ${names.join(', ')}: Kedge stores only its own kinds; pass --kubeconfig or set spec.kubeConfig to apply other kinds to a cluster`,
    );
  }
  return split;
}

/** `Kind/name` (and `Kind`) → the first YAML file under `root/dir` declaring it, relative to root. Best effort. */
async function sourceFiles(root: string, dir: string): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  const base = path.resolve(root, dir.replace(/^\/+/, ''));
  const entries = await readdir(base, { recursive: true, withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    if (!entry.isFile() || !/\.ya?ml$/.test(entry.name)) continue;
    const file = path.join(entry.parentPath, entry.name);
    const text = await readFile(file, 'utf8').catch(() => '');
    for (const doc of parseAllDocuments(text)) {
      const value = (Array.isArray(doc) ? undefined : doc.toJS?.()) as { kind?: string; metadata?: { name?: string } } | undefined;
      if (!value?.kind) continue;
      const rel = path.relative(root, file);
      if (value.metadata?.name && !found.has(`${value.kind}/${value.metadata.name}`)) found.set(`${value.kind}/${value.metadata.name}`, rel);
      if (!found.has(value.kind)) found.set(value.kind, rel);
    }
  }
  return found;
}
