/** The identity of one applied object, as Flux's inventory and kstatus see it. */
export interface ObjectIdentity {
  apiVersion: string;
  kind: string;
  /** `''` for cluster-scoped objects. */
  namespace: string;
  name: string;
}

/** Anything shaped like a Kubernetes object. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [field: string]: unknown };
  [field: string]: unknown;
}

/** The API group of an apiVersion: `apps/v1` → `apps`, `v1` → `''`. */
export function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

/** The version part of an apiVersion: `apps/v1` → `v1`. */
export function versionOf(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? apiVersion : apiVersion.slice(slash + 1);
}

/**
 * Flux's inventory id `<namespace>_<name>_<group>_<Kind>` (cli-utils ObjMetadata): empty namespace for
 * cluster-scoped objects, empty group for the core group.
 */
export function objectId(obj: ObjectIdentity): string {
  return `${obj.namespace}_${obj.name}_${groupOf(obj.apiVersion)}_${obj.kind}`;
}

/** Parses an inventory id. Names cannot contain `_`, so the split is unambiguous. */
export function parseObjectId(id: string): { namespace: string; name: string; group: string; kind: string } {
  const parts = id.split('_');
  if (parts.length !== 4) throw new Error(`invalid inventory id "${id}": expected <namespace>_<name>_<group>_<kind>`);
  const [namespace, name, group, kind] = parts as [string, string, string, string];
  return { namespace, name, group, kind };
}

/** `Kind/namespace/name` (or `Kind/name` when cluster-scoped): how logs, events and errors name an object. */
export function objectLabel(obj: { kind: string; namespace: string; name: string }): string {
  return obj.namespace ? `${obj.kind}/${obj.namespace}/${obj.name}` : `${obj.kind}/${obj.name}`;
}

/** The identity of a manifest or live object (namespace `''` when absent). */
export function identityOf(obj: KubeObject): ObjectIdentity {
  return { apiVersion: obj.apiVersion, kind: obj.kind, namespace: obj.metadata.namespace ?? '', name: obj.metadata.name };
}
