import { Conditions, Reasons } from '../../api/conditions.ts';
import type { GitRepository } from '../../api/gitrepository.ts';
import { KustomizationKind, type Kustomization } from '../../api/kustomization.ts';
import type { Condition } from '../../api/meta.ts';
import { StallingError } from '../../runtime/errors.ts';
import type { Store } from '../../store/store.ts';

/** `namespace/name` of a dependency, defaulting to the dependent's namespace as Flux does. */
function keyOf(dep: { name: string; namespace?: string }, namespace: string): string {
  return `${dep.namespace ?? namespace}/${dep.name}`;
}

/**
 * Throws a StallingError naming the cycle when following `dependsOn` from `object` leads back to it
 * (`default/a -> default/b -> default/a`). Dependencies that do not exist end the walk.
 */
export async function assertNoDependencyCycle(store: Store, object: Kustomization): Promise<void> {
  const start = keyOf(object.metadata, 'default');
  const visit = async (key: string, path: string[]): Promise<void> => {
    const [namespace = 'default', name = ''] = key.split('/');
    const current = key === start && path.length === 0 ? object : ((await store.get({ kind: KustomizationKind, namespace, name })) as Kustomization | undefined);
    for (const dep of current?.spec?.dependsOn ?? []) {
      const next = keyOf(dep, namespace);
      if (next === start) {
        throw new StallingError(Reasons.DependencyNotReady, `circular dependency detected: ${[...path, key, next].join(' -> ')}`);
      }
      if (!path.includes(next) && next !== key) await visit(next, [...path, key]);
    }
  };
  await visit(start, []);
}

/**
 * Why the dependencies of `object` are not ready yet, or undefined when all are: each must exist, be Ready at
 * its latest generation and have applied the revision its source currently offers (Flux's rule).
 */
export async function unreadyDependency(store: Store, object: Kustomization): Promise<string | undefined> {
  const namespace = object.metadata.namespace ?? 'default';
  for (const dep of object.spec?.dependsOn ?? []) {
    const ref = { kind: KustomizationKind, namespace: dep.namespace ?? namespace, name: dep.name };
    const key = `${ref.namespace}/${ref.name}`;
    const found = (await store.get(ref)) as Kustomization | undefined;
    if (!found) return `unable to get '${key}' dependency: not found`;
    const status = found.status;
    const ready = status?.conditions?.find((c: Condition) => c.type === Conditions.Ready);
    if (status?.observedGeneration !== found.metadata.generation || ready?.status !== 'True') {
      return `dependency '${key}' is not ready`;
    }
    const sourceRef = found.spec?.sourceRef;
    if (sourceRef?.kind === 'GitRepository') {
      const source = (await store.get({ kind: 'GitRepository', namespace: sourceRef.namespace ?? ref.namespace, name: sourceRef.name })) as
        | GitRepository
        | undefined;
      const revision = source?.status?.artifact?.revision;
      if (revision && status?.lastAppliedRevision !== revision) return `dependency '${key}' revision is not up to date`;
    }
  }
  return undefined;
}
