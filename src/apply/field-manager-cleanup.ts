import { mergeFieldSets, type FieldSet, type ManagedFieldsEntry } from './managed-fields.ts';

/**
 * Managers whose fields kustomize-controller takes over before applying (Flux's cleanup list): changes made
 * with `kubectl apply` (client- or server-side), `kubectl create`'s `before-first-apply`, and the controller's
 * own pre-SSA updates. Without the takeover, fields they set would survive removal from the manifest.
 */
export const takenOverManagers: readonly { manager: string; operation: 'Apply' | 'Update' }[] = [
  { manager: 'kubectl', operation: 'Apply' },
  { manager: 'kubectl', operation: 'Update' },
  { manager: 'kubectl-client-side-apply', operation: 'Update' },
  { manager: 'before-first-apply', operation: 'Update' },
  { manager: 'kustomize-controller', operation: 'Update' },
];

/** Annotations Flux removes from live objects: kubectl's last-applied copy and legacy Flux checksums. */
export const removedAnnotations = ['kubectl.kubernetes.io/last-applied-configuration', 'kustomize.toolkit.fluxcd.io/checksum', 'fluxcd.io/sync-checksum'];

type JsonPatchOp = { op: 'replace' | 'remove'; path: string; value?: unknown };

/**
 * The JSON patch that moves the fields of `takenOverManagers` into `fieldManager`'s Apply entry and removes
 * `removedAnnotations`; empty when the live object needs no cleanup. The patch tests nothing: the caller sends
 * it right after reading the object.
 */
export function cleanupPatch(object: { metadata?: object }, fieldManager: string): JsonPatchOp[] {
  const live: { metadata?: { managedFields?: ManagedFieldsEntry[]; annotations?: Record<string, string> } } = object;
  const ops: JsonPatchOp[] = [];
  for (const key of removedAnnotations) {
    if (live.metadata?.annotations?.[key] !== undefined) ops.push({ op: 'remove', path: `/metadata/annotations/${key.replaceAll('~', '~0').replaceAll('/', '~1')}` });
  }
  const entries = live.metadata?.managedFields ?? [];
  const isTakenOver = (e: ManagedFieldsEntry): boolean =>
    !e.subresource && takenOverManagers.some((m) => m.manager === e.manager && m.operation === e.operation && !(e.manager === fieldManager && e.operation === 'Apply'));
  const taken = entries.filter(isTakenOver);
  if (taken.length === 0) return ops;
  const ours = entries.find((e) => e.manager === fieldManager && e.operation === 'Apply' && !e.subresource);
  let fields: FieldSet = ours?.fieldsV1 ?? {};
  for (const entry of taken) fields = mergeFieldSets(fields, entry.fieldsV1 ?? {});
  const merged: ManagedFieldsEntry = { ...(ours ?? { manager: fieldManager, operation: 'Apply', apiVersion: taken[0]!.apiVersion, fieldsType: 'FieldsV1' }), fieldsV1: fields, time: new Date().toISOString().replace(/\.\d+Z$/, 'Z') };
  const kept = entries.filter((e) => !isTakenOver(e) && e !== ours);
  ops.push({ op: 'replace', path: '/metadata/managedFields', value: [...kept, merged] });
  return ops;
}
