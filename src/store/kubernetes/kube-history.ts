import { createHash, randomBytes } from 'node:crypto';
import type { HistoryEntry } from '../../api/history.ts';
import type { KObject, ObjectRef } from '../../api/meta.ts';
import type { KubeRest } from '../../apply/kube-rest.ts';
import { NotFoundError } from '../store.ts';
import { isMissing } from './kube-store-errors.ts';

/** Label on every history ConfigMap: the hash of the object it belongs to (names may be longer than a label). */
export const HistoryOfLabel = 'kedge.dev/history-of';
/** Label on every history ConfigMap: the kind of the object it belongs to. */
export const HistoryKindLabel = 'kedge.dev/history-kind';
const ManagedBy = { 'app.kubernetes.io/managed-by': 'kedge', 'app.kubernetes.io/component': 'history' };
const ObjectAnnotation = 'kedge.dev/history-object';

interface HistoryConfigMap {
  metadata: {
    name: string;
    namespace: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  data?: { id?: string; entry?: string };
}

/**
 * History in operator mode: one ConfigMap per entry in the object's namespace (as Helm keeps one Secret per
 * release), labelled with the object's kind and a hash of its identity and owned by the object (ownerReference),
 * so Kubernetes' garbage collector removes the history with its object and `kubectl get cm -l
 * kedge.dev/history-kind` shows it. Ids are the write time in milliseconds plus random bits, fixed width, so
 * they sort in write order.
 */
export class KubeHistoryLog {
  #lastMs = 0;

  constructor(
    private readonly rest: KubeRest,
    private readonly get: (ref: ObjectRef) => Promise<KObject | undefined>,
  ) {}

  async append(ref: ObjectRef, entry: HistoryEntry, keep: number): Promise<HistoryEntry> {
    const owner = await this.get(ref);
    if (!owner) throw new NotFoundError(ref);
    // Strictly increasing in this process; entries of one object are written by its one reconciler.
    this.#lastMs = Math.max(Date.now(), this.#lastMs + 1);
    const id = `${this.#lastMs.toString().padStart(14, '0')}${randomBytes(3).toString('hex')}`;
    const { id: _ignored, ...body } = entry;
    await this.rest.request('POST', collection(ref.namespace), {
      body: {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: {
          name: `kedge-history-${objectHash(ref).slice(0, 10)}-${id}`,
          namespace: ref.namespace,
          labels: { ...ManagedBy, [HistoryOfLabel]: objectHash(ref), [HistoryKindLabel]: ref.kind },
          annotations: { [ObjectAnnotation]: `${ref.kind}/${ref.namespace}/${ref.name}` },
          ownerReferences: owner.metadata.uid
            ? [
                {
                  apiVersion: owner.apiVersion,
                  kind: owner.kind,
                  name: owner.metadata.name,
                  uid: owner.metadata.uid,
                },
              ]
            : undefined,
        },
        data: { id, entry: JSON.stringify(body) },
      },
    });
    const all = await this.#items(ref);
    for (const stale of all.slice(Math.max(1, keep))) await this.#remove(stale);
    return { id, ...body };
  }

  async entries(ref: ObjectRef, limit?: number): Promise<HistoryEntry[]> {
    const items = await this.#items(ref);
    return (limit === undefined ? items : items.slice(0, limit)).map(entryOf);
  }

  async entriesOfKind(
    kind: string,
    namespace?: string,
  ): Promise<Array<{ ref: ObjectRef; entry: HistoryEntry }>> {
    const path = namespace ? collection(namespace) : '/api/v1/configmaps';
    const list = await this.rest.request<{ items?: HistoryConfigMap[] }>('GET', path, {
      query: { labelSelector: `${HistoryKindLabel}=${kind}` },
    });
    return sortNewestFirst(list.items ?? []).flatMap((item) => {
      const [, ns, ...name] = (item.metadata.annotations?.[ObjectAnnotation] ?? '').split('/');
      if (!ns || name.length === 0) return [];
      return [{ ref: { kind, namespace: ns, name: name.join('/') }, entry: entryOf(item) }];
    });
  }

  async delete(ref: ObjectRef): Promise<void> {
    for (const item of await this.#items(ref)) await this.#remove(item);
  }

  /** The object's ConfigMaps, newest first. */
  async #items(ref: ObjectRef): Promise<HistoryConfigMap[]> {
    const list = await this.rest.request<{ items?: HistoryConfigMap[] }>('GET', collection(ref.namespace), {
      query: { labelSelector: `${HistoryOfLabel}=${objectHash(ref)}` },
    });
    return sortNewestFirst(list.items ?? []);
  }

  async #remove(item: HistoryConfigMap): Promise<void> {
    await this.rest
      .request('DELETE', `${collection(item.metadata.namespace)}/${encodeURIComponent(item.metadata.name)}`)
      .catch((error: unknown) => {
        if (!isMissing(error)) throw error;
      });
  }
}

function collection(namespace: string): string {
  return `/api/v1/namespaces/${encodeURIComponent(namespace)}/configmaps`;
}

/** A label-safe hash of the object's identity (40 hex characters). */
function objectHash(ref: ObjectRef): string {
  return createHash('sha256').update(`${ref.kind}/${ref.namespace}/${ref.name}`).digest('hex').slice(0, 40);
}

function sortNewestFirst(items: HistoryConfigMap[]): HistoryConfigMap[] {
  return items.sort((a, b) => ((a.data?.id ?? '') < (b.data?.id ?? '') ? 1 : -1));
}

function entryOf(item: HistoryConfigMap): HistoryEntry {
  return { id: item.data?.id, ...(JSON.parse(item.data?.entry ?? '{}') as HistoryEntry) };
}
