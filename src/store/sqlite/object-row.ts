import type { KObject } from '../../api/meta.ts';

/** One row of the `objects` table. JSON columns hold text. */
export interface ObjectRow {
  kind: string;
  namespace: string;
  name: string;
  api_version: string;
  uid: string;
  resource_version: number;
  generation: number;
  labels: string;
  annotations: string;
  finalizers: string;
  body: string;
  status: string | null;
  creation_timestamp: string;
  deletion_timestamp: string | null;
  seq: number;
}

/**
 * The object a row stores, shaped as Kubernetes returns it: empty labels, annotations and finalizers are left
 * out, `status` only when one was written. Every call returns a fresh object that the caller may change.
 */
export function objectFromRow(row: ObjectRow): KObject {
  const labels = JSON.parse(row.labels) as Record<string, string>;
  const annotations = JSON.parse(row.annotations) as Record<string, string>;
  const finalizers = JSON.parse(row.finalizers) as string[];
  const object: KObject = {
    apiVersion: row.api_version,
    kind: row.kind,
    metadata: {
      name: row.name,
      namespace: row.namespace,
      uid: row.uid,
      resourceVersion: String(row.resource_version),
      generation: row.generation,
      creationTimestamp: row.creation_timestamp,
      ...(row.deletion_timestamp === null ? {} : { deletionTimestamp: row.deletion_timestamp }),
      ...(Object.keys(labels).length > 0 ? { labels } : {}),
      ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
      ...(finalizers.length > 0 ? { finalizers } : {}),
    },
    ...(JSON.parse(row.body) as Record<string, unknown>),
  };
  if (row.status !== null) object.status = JSON.parse(row.status) as unknown;
  return object;
}
