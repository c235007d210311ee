import type { KubeObject } from './object-id.ts';

/** The Kustomization that applied an object; stamped on it as Flux's owner labels. */
export interface Owner {
  name: string;
  namespace: string;
}

export const OwnerNameLabel = 'kustomize.toolkit.fluxcd.io/name';
export const OwnerNamespaceLabel = 'kustomize.toolkit.fluxcd.io/namespace';

/** `{ kustomize.toolkit.fluxcd.io/name: …, kustomize.toolkit.fluxcd.io/namespace: … }`. */
export function ownerLabels(owner: Owner): Record<string, string> {
  return { [OwnerNameLabel]: owner.name, [OwnerNamespaceLabel]: owner.namespace };
}

/** A label selector matching exactly the objects of `owner`. */
export function ownerSelector(owner: Owner): string {
  return `${OwnerNameLabel}=${owner.name},${OwnerNamespaceLabel}=${owner.namespace}`;
}

/** A deep copy of `obj` carrying the owner labels (other labels kept). */
export function withOwnerLabels<T extends KubeObject>(obj: T, owner: Owner): T {
  const copy = structuredClone(obj);
  const labels = (copy.metadata.labels ?? {}) as Record<string, string>;
  copy.metadata.labels = { ...labels, ...ownerLabels(owner) };
  return copy;
}

/** True when a live object still carries both owner labels of `owner`. */
export function isOwnedBy(live: { metadata?: { labels?: Record<string, string> } }, owner: Owner): boolean {
  const labels = live.metadata?.labels ?? {};
  return labels[OwnerNameLabel] === owner.name && labels[OwnerNamespaceLabel] === owner.namespace;
}
