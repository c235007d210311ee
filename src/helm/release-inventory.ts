import { parseAllDocuments } from 'yaml';
import type { InventoryEntry } from '../api/kustomization.ts';

/** Kinds without a namespace, for objects of a release manifest (Helm leaves namespaces to the client). */
const CLUSTER_SCOPED = new Set([
  'Namespace',
  'Node',
  'PersistentVolume',
  'StorageClass',
  'PriorityClass',
  'ClusterRole',
  'ClusterRoleBinding',
  'CustomResourceDefinition',
  'APIService',
  'MutatingWebhookConfiguration',
  'ValidatingWebhookConfiguration',
  'ValidatingAdmissionPolicy',
  'ValidatingAdmissionPolicyBinding',
  'IngressClass',
  'RuntimeClass',
  'CSIDriver',
  'CSINode',
  'VolumeAttachment',
]);

/**
 * The objects of a release's manifest as Flux's inventory entries (`<namespace>_<name>_<group>_<Kind>`, the
 * version), sorted by id: what `status.inventory` of a HelmRelease lists and `kedge tree` prints. Objects
 * without a namespace are in `releaseNamespace` unless their kind is cluster-scoped.
 */
export function releaseInventory(manifest: string, releaseNamespace: string): InventoryEntry[] {
  const entries = new Map<string, InventoryEntry>();
  for (const doc of parseAllDocuments(manifest)) {
    const obj = doc.toJS() as {
      apiVersion?: string;
      kind?: string;
      metadata?: { name?: string; namespace?: string };
    } | null;
    if (!obj?.kind || !obj.apiVersion || !obj.metadata?.name) continue;
    const slash = obj.apiVersion.indexOf('/');
    const group = slash < 0 ? '' : obj.apiVersion.slice(0, slash);
    const version = slash < 0 ? obj.apiVersion : obj.apiVersion.slice(slash + 1);
    const namespace = CLUSTER_SCOPED.has(obj.kind) ? '' : (obj.metadata.namespace ?? releaseNamespace);
    const id = `${namespace}_${obj.metadata.name}_${group}_${obj.kind}`;
    entries.set(id, { id, v: version });
  }
  return [...entries.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
