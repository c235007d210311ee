import { kindResources, type KindResource } from '../../api/crds.ts';
import type { ObjectRef } from '../../api/meta.ts';

/** How the store reaches one kind on the API server. */
export interface KindPaths {
  resource: KindResource;
  /** `group/version` (or `v1`) the store reads and writes. */
  apiVersion: string;
  /** Custom resources have a status subresource and a generation; core Secret/ConfigMap have neither. */
  custom: boolean;
  /** The collection in one namespace, or in all when `namespace` is undefined. */
  collection(namespace: string | undefined): string;
  object(ref: Pick<ObjectRef, 'namespace' | 'name'>): string;
}

const byKind = new Map<string, KindPaths>(
  kindResources().map((resource) => {
    const [version = ''] = resource.versions;
    const apiVersion = resource.group === '' ? version : `${resource.group}/${version}`;
    const base = resource.group === '' ? `/api/${version}` : `/apis/${apiVersion}`;
    const collection = (namespace: string | undefined): string =>
      namespace === undefined
        ? `${base}/${resource.plural}`
        : `${base}/namespaces/${encodeURIComponent(namespace)}/${resource.plural}`;
    return [
      resource.kind,
      {
        resource,
        apiVersion,
        custom: resource.group !== '',
        collection,
        object: (ref) => `${collection(ref.namespace)}/${encodeURIComponent(ref.name)}`,
      },
    ];
  }),
);

/** Every kind the store keeps, by name. */
export function storedKinds(): string[] {
  return [...byKind.keys()];
}

/** The paths of `kind`; throws naming the kind when Kedge does not store it. */
export function kindPaths(kind: string): KindPaths {
  const paths = byKind.get(kind);
  if (paths === undefined)
    throw new Error(`kind ${kind} is not stored by Kedge (known: ${storedKinds().join(', ')})`);
  return paths;
}
