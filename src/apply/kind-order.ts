import { groupOf, type KubeObject } from './object-id.ts';

// Flux's apply order (fluxcd/pkg ssa sort.go): these kinds first, in this order; unknown kinds after them;
// admission webhooks last so they never block the objects they would admit.
const first = [
  'CustomResourceDefinition', 'Namespace', 'ResourceQuota', 'StorageClass', 'ServiceAccount', 'PodSecurityPolicy',
  'Role', 'ClusterRole', 'RoleBinding', 'ClusterRoleBinding', 'ConfigMap', 'Secret', 'Service', 'LimitRange',
  'PriorityClass', 'Deployment', 'StatefulSet', 'CronJob', 'PodDisruptionBudget',
];
const last = ['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration'];

function kindIndex(kind: string): number {
  const i = first.indexOf(kind);
  if (i >= 0) return i - first.length;
  const j = last.indexOf(kind);
  return j >= 0 ? j + 1 : 0;
}

/** Compares two objects in Flux's apply order: kind rank, then group, kind, namespace, name. */
export function compareApplyOrder(a: KubeObject, b: KubeObject): number {
  const byKind = kindIndex(a.kind) - kindIndex(b.kind);
  if (byKind !== 0) return byKind;
  const [ga, gb] = [groupOf(a.apiVersion), groupOf(b.apiVersion)];
  if (ga !== gb) return ga < gb ? -1 : 1;
  if (a.kind !== b.kind) return a.kind < b.kind ? -1 : 1;
  const [na, nb] = [a.metadata.namespace ?? '', b.metadata.namespace ?? ''];
  if (na !== nb) return na < nb ? -1 : 1;
  return a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0;
}

/** A sorted copy of `objects` in Flux's apply order (deterministic whatever the input order). */
export function sortForApply<T extends KubeObject>(objects: readonly T[]): T[] {
  return [...objects].sort(compareApplyOrder);
}

/**
 * Flux's first stage (ssa IsClusterDefinition): CustomResourceDefinitions, Namespaces and ClusterRoles,
 * applied and waited for before anything that may depend on them.
 */
export function isClusterDefinition(obj: KubeObject): boolean {
  return (
    (obj.kind === 'CustomResourceDefinition' && obj.apiVersion.startsWith('apiextensions.k8s.io/')) ||
    (obj.kind === 'Namespace' && obj.apiVersion === 'v1') ||
    (obj.kind === 'ClusterRole' && obj.apiVersion.startsWith('rbac.authorization.k8s.io/'))
  );
}
