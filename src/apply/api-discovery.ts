import type { KubeRest } from './kube-rest.ts';

/** Where a kind is served: its plural resource name and whether objects live in a namespace. */
export interface ApiResource {
  group: string;
  version: string;
  kind: string;
  plural: string;
  namespaced: boolean;
}

/** Thrown when the server serves no such apiVersion/kind (e.g. a custom resource whose CRD is missing). */
export class UnknownKindError extends Error {
  override name = 'UnknownKindError';
}

interface ResourceList {
  resources: { name: string; kind: string; namespaced: boolean }[];
}

/**
 * Resolves apiVersion + kind to an API resource through the server's discovery documents. Results are cached
 * per apiVersion; a miss refreshes that apiVersion once, so a CRD established a moment ago is found.
 */
export class ApiDiscovery {
  readonly #cache = new Map<string, Promise<ResourceList>>();

  constructor(private readonly rest: KubeRest) {}

  async resourceFor(apiVersion: string, kind: string): Promise<ApiResource> {
    const hit = await this.#lookup(apiVersion, kind, false);
    const found = hit ?? (await this.#lookup(apiVersion, kind, true));
    if (!found) throw new UnknownKindError(`no matches for kind "${kind}" in version "${apiVersion}"`);
    return found;
  }

  /** The URL path of an object (with a name) or of its collection (name undefined). */
  async pathFor(apiVersion: string, kind: string, namespace: string | undefined, name?: string): Promise<string> {
    const resource = await this.resourceFor(apiVersion, kind);
    return resourcePath(resource, namespace, name);
  }

  async #lookup(apiVersion: string, kind: string, refresh: boolean): Promise<ApiResource | undefined> {
    if (refresh) this.#cache.delete(apiVersion);
    let list = this.#cache.get(apiVersion);
    if (!list) {
      list = this.rest.request<ResourceList>('GET', apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`);
      this.#cache.set(apiVersion, list);
      list.catch(() => this.#cache.delete(apiVersion));
    }
    const resources = await list.catch(() => ({ resources: [] }));
    const match = resources.resources.find((r) => r.kind === kind && !r.name.includes('/'));
    if (!match) return undefined;
    const [group, version] = apiVersion.includes('/') ? (apiVersion.split('/') as [string, string]) : ['', apiVersion];
    return { group, version, kind, plural: match.name, namespaced: match.namespaced };
  }
}

/** `/api/v1/namespaces/ns/configmaps/name` and friends; `namespace` is ignored for cluster-scoped kinds. */
export function resourcePath(resource: ApiResource, namespace: string | undefined, name?: string): string {
  const parts = [resource.group === '' ? `/api/${resource.version}` : `/apis/${resource.group}/${resource.version}`];
  if (resource.namespaced && namespace) parts.push('namespaces', encodeURIComponent(namespace));
  parts.push(resource.plural);
  if (name !== undefined) parts.push(encodeURIComponent(name));
  return parts.join('/');
}
