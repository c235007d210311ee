import { jsonEqual } from './semantic-diff.ts';

/** One `metadata.managedFields` entry. */
export interface ManagedFieldsEntry {
  manager?: string;
  operation?: string;
  apiVersion?: string;
  time?: string;
  fieldsType?: string;
  fieldsV1?: FieldSet;
  subresource?: string;
}

/** A `FieldsV1` set: keys `f:<name>`, `k:<json key>`, `v:<json value>`, `i:<index>` and `.` (the node itself). */
export type FieldSet = { [key: string]: FieldSet };

/** The entry of `manager` with operation Apply on the main resource, if any. */
export function applyEntry(obj: { metadata?: { managedFields?: ManagedFieldsEntry[] } } | undefined, manager: string): ManagedFieldsEntry | undefined {
  return obj?.metadata?.managedFields?.find((e) => e.manager === manager && e.operation === 'Apply' && !e.subresource);
}

/** The union of two field sets. */
export function mergeFieldSets(a: FieldSet, b: FieldSet): FieldSet {
  const out: FieldSet = { ...a };
  for (const [key, value] of Object.entries(b)) out[key] = key in out ? mergeFieldSets(out[key]!, value) : value;
  return out;
}

/** A path through an object, one FieldsV1 key per step (`f:spec`, `k:{"name":"app"}`, …). */
export type FieldPath = string[];

/** The leaf paths of a field set: fields owned with no owned children (`.` entries are not leaves). */
export function leafPaths(set: FieldSet, prefix: FieldPath = []): FieldPath[] {
  const out: FieldPath[] = [];
  for (const [key, child] of Object.entries(set)) {
    if (key === '.') continue;
    const path = [...prefix, key];
    const children = Object.keys(child).filter((k) => k !== '.');
    if (children.length === 0) out.push(path);
    else out.push(...leafPaths(child, path));
  }
  return out;
}

/** True when `set` contains `path`. */
export function hasPath(set: FieldSet | undefined, path: FieldPath): boolean {
  let node = set;
  for (const key of path) {
    node = node?.[key];
    if (!node) return false;
  }
  return true;
}

/** The value at a FieldsV1 path in an object; undefined when any step is missing. */
export function valueAt(obj: unknown, path: FieldPath): unknown {
  let node: unknown = obj;
  for (const key of path) {
    if (node === undefined || node === null) return undefined;
    const kind = key.slice(0, 2);
    const arg = key.slice(2);
    if (kind === 'f:') node = (node as Record<string, unknown>)[arg];
    else if (kind === 'i:') node = Array.isArray(node) ? node[Number(arg)] : undefined;
    else if (kind === 'k:') {
      const match = JSON.parse(arg) as Record<string, unknown>;
      node = Array.isArray(node) ? node.find((item) => Object.entries(match).every(([k, v]) => jsonEqual((item as Record<string, unknown>)?.[k], v))) : undefined;
    } else if (kind === 'v:') {
      const value = JSON.parse(arg) as unknown;
      node = Array.isArray(node) && node.some((item) => jsonEqual(item, value)) ? value : undefined;
    } else return undefined;
  }
  return node;
}

/** A readable form of a FieldsV1 path: `spec.template.spec.containers[name=app].image`. */
export function formatPath(path: FieldPath): string {
  let out = '';
  for (const key of path) {
    const arg = key.slice(2);
    if (key.startsWith('f:')) out += out === '' ? arg : `.${arg}`;
    else if (key.startsWith('i:')) out += `[${arg}]`;
    else if (key.startsWith('k:')) out += `[${Object.entries(JSON.parse(arg) as Record<string, unknown>).map(([k, v]) => `${k}=${String(v)}`).join(',')}]`;
    else if (key.startsWith('v:')) out += `[=${arg}]`;
  }
  return out;
}
