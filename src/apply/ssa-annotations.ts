/** Per-object annotations Flux's kustomize-controller honours, with the same keys and values. */
export const SsaAnnotation = 'kustomize.toolkit.fluxcd.io/ssa';
export const ForceAnnotation = 'kustomize.toolkit.fluxcd.io/force';
export const ReconcileAnnotation = 'kustomize.toolkit.fluxcd.io/reconcile';
export const PruneAnnotation = 'kustomize.toolkit.fluxcd.io/prune';

/**
 * How an object is applied: `Override` (default: force ownership, take over fields of kubectl and other
 * imperative managers), `Merge` (apply without taking over fields set by other managers), `IfNotPresent`
 * (create only, never update), `Ignore` (never apply).
 */
export type SsaPolicy = 'Override' | 'Merge' | 'IfNotPresent' | 'Ignore';

type Annotated = { metadata?: object } | undefined;

function annotation(obj: Annotated, key: string): string | undefined {
  return (obj?.metadata as { annotations?: Record<string, string> } | undefined)?.annotations?.[key];
}

/** The object's ssa policy; unknown values count as Override, as in Flux. */
export function ssaPolicy(obj: Annotated): SsaPolicy {
  const value = annotation(obj, SsaAnnotation);
  return value === 'Merge' || value === 'IfNotPresent' || value === 'Ignore' ? value : 'Override';
}

/** `kustomize.toolkit.fluxcd.io/force: Enabled`: recreate the object when an immutable field changes. */
export function forceEnabled(obj: Annotated): boolean {
  return annotation(obj, ForceAnnotation) === 'Enabled';
}

/** `kustomize.toolkit.fluxcd.io/reconcile: disabled`: leave the object alone. */
export function reconcileDisabled(obj: Annotated): boolean {
  return annotation(obj, ReconcileAnnotation) === 'disabled';
}

/** `kustomize.toolkit.fluxcd.io/prune: disabled`: never delete the object when it leaves the set. */
export function pruneDisabled(obj: Annotated): boolean {
  return annotation(obj, PruneAnnotation) === 'disabled';
}
