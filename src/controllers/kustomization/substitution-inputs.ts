import { secretValues } from '../../api/core.ts';
import type { KustomizationSpec } from '../../api/kustomization.ts';
import type { Substitutions } from '../../kustomize/substitute.ts';
import type { Store } from '../../store/store.ts';

/** A non-optional `substituteFrom` object is missing; the message names it. */
export class SubstitutionSourceError extends Error {
  override name = 'SubstitutionSourceError';
  readonly reason = 'BuildFailed';
}

/**
 * Reads `spec.postBuild` inputs from the store: the data of each `substituteFrom` ConfigMap/Secret in list
 * order (optional ones that are missing are skipped, as Flux does) and the inline `substitute` map.
 * Undefined when the spec has no `postBuild`.
 */
export async function substitutionInputs(store: Store, namespace: string, spec: KustomizationSpec): Promise<Substitutions | undefined> {
  const postBuild = spec.postBuild;
  if (!postBuild) return undefined;
  const substituteFrom: Record<string, string>[] = [];
  for (const ref of postBuild.substituteFrom ?? []) {
    const object = await store.get({ kind: ref.kind, namespace, name: ref.name });
    if (!object) {
      if (ref.optional) continue;
      throw new SubstitutionSourceError(`substitute from '${ref.kind}/${namespace}/${ref.name}' failed: ${ref.kind} not found`);
    }
    substituteFrom.push(ref.kind === 'Secret' ? secretValues(object) : ((object.data ?? {}) as Record<string, string>));
  }
  return { substituteFrom, substitute: postBuild.substitute };
}
