import type { KObject } from '../../api/meta.ts';
import { resourcePath } from '../../apply/api-discovery.ts';
import { CollectionWatch } from '../../apply/collection-watch.ts';
import type { KubeTarget } from '../../apply/kube-client.ts';
import { identityOf, objectLabel, type KubeObject } from '../../apply/object-id.ts';
import { ownerSelector, type Owner } from '../../apply/owner-labels.ts';

/** One out-of-band change: the object (`Kind/ns/name`) and the fields that no longer match, or `deleted`. */
export interface Drift {
  subject: string;
  fields: string[];
}

/**
 * The dotted paths of `desired` whose value `live` does not have: a subset comparison, so fields the server
 * defaults or other managers own never count. A Secret's `stringData` is compared as the `data` it becomes.
 */
export function driftedFields(desired: KubeObject, live: KubeObject): string[] {
  const wanted = structuredClone(desired) as Record<string, unknown>;
  if (desired.kind === 'Secret' && wanted.stringData) {
    const data = { ...((wanted.data ?? {}) as Record<string, string>) };
    for (const [k, v] of Object.entries(wanted.stringData as Record<string, string>)) data[k] = Buffer.from(v).toString('base64');
    wanted.data = data;
    delete wanted.stringData;
  }
  const { metadata, status: _status, ...body } = wanted as { metadata: Record<string, unknown>; status?: unknown };
  const out: string[] = [];
  compare({ labels: metadata.labels, annotations: metadata.annotations }, live.metadata, 'metadata', out);
  compare(body, live, '', out);
  return out;
}

function compare(want: unknown, have: unknown, path: string, out: string[]): void {
  if (want === undefined) return;
  if (want !== null && typeof want === 'object' && !Array.isArray(want)) {
    if (have === null || typeof have !== 'object' || Array.isArray(have)) {
      out.push(path);
      return;
    }
    for (const [k, v] of Object.entries(want)) compare(v, (have as Record<string, unknown>)[k], path ? `${path}.${k}` : k, out);
    return;
  }
  if (Array.isArray(want)) {
    if (!Array.isArray(have) || have.length !== want.length) out.push(path);
    else want.forEach((v, i) => compare(v, have[i], `${path}[${i}]`, out));
    return;
  }
  // Numbers the server renders as strings (and back) are the same value.
  if (want !== have && scalarText(want) !== scalarText(have)) out.push(path);
}

function scalarText(value: unknown): string {
  return typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value);
}

/**
 * Watches the objects one Kustomization applied to a cluster (one list-then-watch per kind and namespace,
 * filtered by the owner labels) and calls `onDrift` when one is edited away from what was applied or deleted.
 * Changes that keep every applied field (status updates, other managers' fields) are not drift.
 */
export class DriftWatch {
  readonly #watches: CollectionWatch[] = [];

  constructor(
    private readonly target: KubeTarget,
    private readonly owner: Owner,
    private readonly desired: readonly KObject[],
    private readonly onDrift: (drift: Drift) => void,
  ) {}

  async start(): Promise<void> {
    const groups = new Map<string, KubeObject[]>();
    for (const object of this.desired) {
      const key = `${object.apiVersion}|${object.kind}|${object.metadata.namespace ?? ''}`;
      groups.set(key, [...(groups.get(key) ?? []), object as KubeObject]);
    }
    for (const group of groups.values()) {
      const first = group[0]!;
      const resource = await this.target.discovery.resourceFor(first.apiVersion, first.kind);
      const byName = new Map(group.map((o) => [o.metadata.name, o]));
      const check = (type: string, live: KubeObject): void => {
        const want = byName.get(live.metadata.name);
        if (!want) return;
        const subject = objectLabel(identityOf(want));
        if (type === 'DELETED') this.onDrift({ subject, fields: ['deleted'] });
        else if (!(live.metadata as { deletionTimestamp?: string }).deletionTimestamp) {
          const fields = driftedFields(want, live);
          if (fields.length > 0) this.onDrift({ subject, fields });
        }
      };
      const watch = new CollectionWatch({
        kubeConfig: this.target.kubeConfig,
        rest: this.target.rest,
        path: resourcePath(resource, resource.namespaced ? first.metadata.namespace : undefined),
        apiVersion: first.apiVersion,
        kind: first.kind,
        labelSelector: ownerSelector(this.owner),
        onList: (items) => {
          const present = new Set(items.map((i) => i.metadata.name));
          for (const item of items) check('MODIFIED', item);
          for (const want of group) if (!present.has(want.metadata.name)) check('DELETED', want);
        },
        onEvent: check,
      });
      this.#watches.push(watch);
      await watch.start();
    }
  }

  stop(): void {
    for (const watch of this.#watches.splice(0)) watch.stop();
  }
}
