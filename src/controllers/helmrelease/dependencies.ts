import { Conditions } from '../../api/conditions.ts';
import { HelmReleaseKind, type HelmRelease } from '../../api/helmrelease.ts';
import { compileCel } from '../../cel/cel-expression.ts';
import { FluxCel } from '../../cel/flux-expressions.ts';
import type { Store } from '../../store/store.ts';

/**
 * Why the `dependsOn` HelmReleases of `hr` are not ready yet, or undefined when all are: each must exist and be
 * Ready at its latest generation — or make its `readyExpr` true (`self`: `hr`, `dep`: the dependency).
 */
export async function unreadyDependency(store: Store, hr: HelmRelease): Promise<string | undefined> {
  const namespace = hr.metadata.namespace ?? 'default';
  for (const dep of hr.spec?.dependsOn ?? []) {
    const ref = { kind: HelmReleaseKind, namespace: dep.namespace ?? namespace, name: dep.name };
    const key = `${ref.namespace}/${ref.name}`;
    if (key === `${namespace}/${hr.metadata.name}`) return `'${key}' depends on itself`;
    const found = (await store.get(ref)) as HelmRelease | undefined;
    if (!found) return `unable to get '${key}' dependency: not found`;
    if (dep.readyExpr !== undefined) {
      try {
        if (!compileCel(dep.readyExpr, FluxCel.readyExpr).evaluateBoolean({ self: hr, dep: found }))
          return `dependency '${key}' is not ready according to readyExpr eval`;
      } catch (error) {
        return `dependency '${key}': readyExpr: ${(error as Error).message}`;
      }
      continue;
    }
    const ready = found.status?.conditions?.find((c) => c.type === Conditions.Ready);
    if (found.status?.observedGeneration !== found.metadata.generation || ready?.status !== 'True')
      return `dependency '${key}' is not ready`;
  }
  return undefined;
}
