import { kindResources } from '../api/crds.ts';
import type { KObject } from '../api/meta.ts';

/** Names of the RBAC objects of one install (cluster-scoped names carry the namespace, as Flux's do). */
export function rbacNames(namespace: string) {
  return {
    serviceAccount: 'kedge',
    /** Least privilege for the store, events, secrets/configmaps, impersonation. */
    controllerRole: `kedge-controller-${namespace}`,
    /** cluster-admin for what Kustomizations apply (Flux's `cluster-reconciler`). */
    reconcilerBinding: `kedge-cluster-reconciler-${namespace}`,
    /** Leases in the install namespace only. */
    leaderElectionRole: 'kedge-leader-election',
  };
}

/**
 * The ServiceAccount and its RBAC: a ClusterRole with what the store needs (Kedge's and Flux's kinds, their
 * status and finalizers; events; secrets and configmaps read, history configmaps written; impersonating service accounts for
 * `spec.serviceAccountName`), a namespaced Role for the leader-election Lease, and — as Flux's install does —
 * a binding to `cluster-admin` for what Kustomizations apply (remove it to confine Kedge to
 * `spec.serviceAccountName` identities).
 */
export function rbacManifests(namespace: string, labels: Record<string, string>): KObject[] {
  const names = rbacNames(namespace);
  const subject = { kind: 'ServiceAccount', name: names.serviceAccount, namespace };
  const custom = kindResources().filter((r) => r.group !== '');
  const groups = [...new Set(custom.map((r) => r.group))].sort();
  const kindRules = groups.map((group) => {
    const plurals = custom
      .filter((r) => r.group === group)
      .map((r) => r.plural)
      .sort();
    return [
      // The store reads and writes these (a Kustomization's store target creates and prunes them too).
      {
        apiGroups: [group],
        resources: plurals,
        verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'],
      },
      {
        apiGroups: [group],
        resources: plurals.flatMap((p) => [`${p}/status`, `${p}/finalizers`]),
        verbs: ['get', 'update', 'patch'],
      },
    ];
  });
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: names.serviceAccount, namespace, labels } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: names.controllerRole, labels },
      rules: [
        ...kindRules.flat(),
        { apiGroups: [''], resources: ['secrets', 'configmaps'], verbs: ['get', 'list', 'watch'] },
        // History entries (one ConfigMap each, owned by their Kustomization or App): written and trimmed.
        { apiGroups: [''], resources: ['configmaps'], verbs: ['create', 'delete'] },
        { apiGroups: [''], resources: ['namespaces', 'serviceaccounts'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: [''], resources: ['serviceaccounts'], verbs: ['impersonate'] },
        {
          apiGroups: ['events.k8s.io'],
          resources: ['events'],
          verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'],
        },
        { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
        {
          apiGroups: ['apiextensions.k8s.io'],
          resources: ['customresourcedefinitions'],
          verbs: ['get', 'list', 'watch'],
        },
      ],
    },
    clusterRoleBinding(names.controllerRole, names.controllerRole, subject, labels),
    clusterRoleBinding(names.reconcilerBinding, 'cluster-admin', subject, labels),
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: names.leaderElectionRole, namespace, labels },
      rules: [
        {
          apiGroups: ['coordination.k8s.io'],
          resources: ['leases'],
          verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'],
        },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: names.leaderElectionRole, namespace, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: names.leaderElectionRole },
      subjects: [subject],
    },
  ];
}

function clusterRoleBinding(
  name: string,
  role: string,
  subject: object,
  labels: Record<string, string>,
): KObject {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name, labels },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
    subjects: [subject],
  };
}
