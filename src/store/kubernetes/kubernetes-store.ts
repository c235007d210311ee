import { hostname } from 'node:os';
import type { KubeConfig } from '@kubernetes/client-node';
import type { HistoryEntry } from '../../api/history.ts';
import type { KObject, KedgeEvent, ObjectRef } from '../../api/meta.ts';
import { KubeRest } from '../../apply/kube-rest.ts';
import { jsonEqual } from '../canonical-json.ts';
import { bodyOf } from '../desired-state.ts';
import {
  ConflictError,
  InvalidObjectError,
  NotFoundError,
  type ApplyResult,
  type EventFilter,
  type ListOptions,
  type Store,
  type WatchEvent,
} from '../store.ts';
import { KindWatch, keyOf } from './kind-watch.ts';
import { kindPaths, storedKinds, type KindPaths } from './kind-paths.ts';
import { KubeEventLog } from './kube-events.ts';
import { KubeHistoryLog } from './kube-history.ts';
import { isAlreadyExists, isMissing, storeError } from './kube-store-errors.ts';
import { LabelSelector } from './label-selector.ts';
import { onlyFieldsMore, replaceBody, sameDesired, userMetadata } from './desired-object.ts';
import { storedObject } from './stored-object.ts';
import { storeKubeConfig, type StoreKubeConfigOptions } from './store-kubeconfig.ts';

export interface KubernetesStoreOptions extends StoreKubeConfigOptions {
  /** A kubeconfig already loaded; wins over `kubeconfig` and `context`. */
  kubeConfig?: KubeConfig;
  /** List and watch every namespace (Flux's `--watch-all-namespaces`). Default true. */
  watchAllNamespaces?: boolean;
  /** The one namespace listed and watched when `watchAllNamespaces` is false (then required). */
  namespace?: string;
  /**
   * Only objects matching this label selector are listed and watched, e.g. Flux's sharding
   * `sharding.fluxcd.io/key in (shard1)`. `get` reads any object.
   */
  labelSelector?: string;
  /** Field manager of the store's writes (`metadata.managedFields`). Default `kedge`. */
  fieldManager?: string;
  /** Where an object without a namespace lives. Default `default`. */
  defaultNamespace?: string;
  /** `reportingInstance` of recorded Events. Default: the host name (a pod's name in a cluster). */
  reportingInstance?: string;
  /**
   * How long a write waits for the store's own watch of that kind to deliver it (the Store guarantee that a
   * process's changes are delivered before its write settles). After that the write settles anyway and the
   * change is delivered when the watch catches up. Default 10 s.
   */
  deliveryTimeoutMs?: number;
  /** A watch handler threw; the other handlers still get the change. Default: a process warning. */
  onWatchHandlerError?: (error: unknown) => void;
  /** A list or watch failed (it retries with backoff). Default: ignored. */
  onWatchError?: (kind: string, error: unknown) => void;
}

type Handler = (event: WatchEvent) => void;
const allKinds = '*';
/** A write that is not optimistic re-reads and retries on a conflict this many times. */
const writeAttempts = 5;

/**
 * Opens the {@link Store} on a Kubernetes API server (operator mode): Kedge's kinds are custom resources
 * (Flux's CRDs, or Kedge's own from `src/api/crds.ts`), Secret and ConfigMap the core kinds. Checks that every
 * kind is served and throws naming the CRDs that are missing (see `ensureCustomResourceDefinitions`).
 */
export async function openKubernetesStore(options: KubernetesStoreOptions = {}): Promise<KubernetesStore> {
  const store = new KubernetesStore(options.kubeConfig ?? storeKubeConfig(options), options);
  try {
    await store.checkServed();
  } catch (error) {
    await store.close();
    throw error;
  }
  return store;
}

/**
 * The Store on the Kubernetes API, through the raw JSON client (unknown CRD fields are kept). Spec and
 * metadata go through the main resource, status through the `status` subresource; writes carry
 * `fieldValidation=Strict`, so unknown fields are refused rather than pruned. Conflicts, finalizers,
 * `deletionTimestamp`, `generation` and no-op detection are the API server's own. Watches are one list+watch
 * per kind ({@link KindWatch}) shared by all subscribers; events are `events.k8s.io/v1` Events.
 */
export class KubernetesStore implements Store {
  readonly rest: KubeRest;
  readonly #kubeConfig: KubeConfig;
  readonly #scope: string | undefined;
  readonly #selector: LabelSelector | undefined;
  readonly #defaultNamespace: string;
  readonly #deliveryTimeoutMs: number;
  readonly #events: KubeEventLog;
  readonly #history: KubeHistoryLog;
  readonly #writeQuery: Record<string, string>;
  readonly #watches = new Map<string, KindWatch>();
  readonly #handlers = new Map<string, Set<Handler>>();
  #closed = false;

  constructor(
    kubeConfig: KubeConfig,
    private readonly options: KubernetesStoreOptions = {},
  ) {
    if (options.watchAllNamespaces === false && !options.namespace)
      throw new Error('the kubernetes store needs a namespace to watch when watchAllNamespaces is false');
    this.#kubeConfig = kubeConfig;
    this.rest = new KubeRest(kubeConfig);
    this.#scope = options.watchAllNamespaces === false ? options.namespace : undefined;
    this.#selector = options.labelSelector ? new LabelSelector(options.labelSelector) : undefined;
    this.#defaultNamespace = options.defaultNamespace ?? 'default';
    this.#deliveryTimeoutMs = options.deliveryTimeoutMs ?? 10_000;
    this.#events = new KubeEventLog(this.rest, options.reportingInstance ?? hostname());
    this.#history = new KubeHistoryLog(this.rest, (ref) => this.get(ref));
    this.#writeQuery = { fieldValidation: 'Strict', fieldManager: options.fieldManager ?? 'kedge' };
  }

  /** Throws naming every kind the API server does not serve (its CRD is missing or lacks the version). */
  async checkServed(): Promise<void> {
    const missing: string[] = [];
    const byApiVersion = new Map<string, KindPaths[]>();
    for (const kind of storedKinds()) {
      const paths = kindPaths(kind);
      byApiVersion.set(paths.apiVersion, [...(byApiVersion.get(paths.apiVersion) ?? []), paths]);
    }
    for (const [apiVersion, kinds] of byApiVersion) {
      const path = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
      const served = await this.rest
        .request<{ resources?: { name: string }[] }>('GET', path)
        .catch((error: unknown) => {
          if (isMissing(error)) return { resources: [] };
          throw error;
        });
      for (const paths of kinds)
        if (!served.resources?.some((r) => r.name === paths.resource.plural))
          missing.push(`${paths.resource.plural}.${paths.resource.group} (${paths.apiVersion})`);
    }
    if (missing.length > 0)
      throw new Error(
        `the API server does not serve ${missing.join(', ')}: install Kedge's CRDs (kedge install) or Flux's`,
      );
  }

  async get(ref: ObjectRef): Promise<KObject | undefined> {
    return this.#current(kindPaths(ref.kind), { ...ref, namespace: ref.namespace || this.#defaultNamespace });
  }

  async list(kind: string, options: ListOptions = {}): Promise<KObject[]> {
    const paths = kindPaths(kind);
    const cached = this.#listFromWatch(kind, options);
    if (cached !== undefined) return cached;
    const selector = [
      this.#selector?.text,
      ...Object.entries(options.labels ?? {}).map(([key, value]) => `${key}=${value}`),
    ].filter((s) => s !== undefined && s !== '');
    const list = await this.rest.request<{ items?: KObject[] }>(
      'GET',
      paths.collection(options.namespace ?? this.#scope),
      {
        query: { labelSelector: selector.length > 0 ? selector.join(',') : undefined },
      },
    );
    return (list.items ?? []).map((item) => storedObject({ ...item, apiVersion: paths.apiVersion, kind }));
  }

  async apply(object: KObject): Promise<{ object: KObject; result: ApplyResult }> {
    const ref = this.#validRef(object);
    const paths = kindPaths(ref.kind);
    await this.#watchSynced(ref.kind);
    for (let attempt = 1; ; attempt++) {
      // A stale read is caught by the write's resourceVersion (409) and read again from the server.
      const live = await this.#current(paths, ref, attempt > 1);
      try {
        if (live === undefined) {
          const created = await this.#send('POST', paths.collection(ref.namespace), ref, {
            apiVersion: paths.apiVersion,
            kind: ref.kind,
            metadata: {
              ...userMetadata(object),
              name: ref.name,
              namespace: ref.namespace,
              finalizers: object.metadata.finalizers,
            },
            ...bodyOf(object),
          });
          await this.#delivered(ref.kind, created, false);
          return { object: created, result: 'created' };
        }
        const next = {
          ...replaceBody(live, object, paths),
          metadata: { ...live.metadata, ...userMetadata(object) },
        };
        if (sameDesired(live, next)) return { object: live, result: 'unchanged' };
        // When the live body only has fields more, they may be what the CRD's schema defaults (Flux's CRDs
        // default e.g. spec.timeout): ask the server what it would store. Writing it would bump resourceVersion
        // when it persists a defaulted status.
        if (onlyFieldsMore(live, next)) {
          const dryRun = await this.#send('PUT', paths.object(ref), ref, next, true);
          if (sameDesired(live, dryRun)) return { object: live, result: 'unchanged' };
        }
        const written = await this.#send('PUT', paths.object(ref), ref, next);
        if (written.metadata.resourceVersion === live.metadata.resourceVersion)
          return { object: written, result: 'unchanged' };
        await this.#delivered(ref.kind, written, false);
        return { object: written, result: 'configured' };
      } catch (error) {
        // Not optimistic: somebody created or changed it between our read and write; read it again.
        const raced = isAlreadyExists(error) || error instanceof ConflictError;
        if (!raced || attempt >= writeAttempts) throw error;
      }
    }
  }

  async update(object: KObject): Promise<KObject> {
    const ref = this.#validRef(object);
    const paths = kindPaths(ref.kind);
    const wanted = object.metadata.resourceVersion || undefined;
    await this.#watchSynced(ref.kind);
    for (let attempt = 1; ; attempt++) {
      // The watch's copy when it holds the very version the caller read (a resourceVersion names one state);
      // otherwise the server's, so a stale watch never turns into a false conflict.
      const live = (attempt === 1 && this.#heldAt(ref, wanted)) || (await this.#read(paths, ref));
      if (live === undefined) throw new NotFoundError(ref);
      if (wanted !== undefined && wanted !== live.metadata.resourceVersion) throw new ConflictError(ref);
      const metadata = { ...live.metadata, ...userMetadata(object), finalizers: object.metadata.finalizers };
      const next = { ...replaceBody(live, object, paths), metadata };
      if (sameDesired(live, next) && jsonEqual(live.metadata.finalizers ?? [], metadata.finalizers ?? []))
        return live;
      try {
        const written = await this.#send('PUT', paths.object(ref), ref, next);
        const gone =
          written.metadata.deletionTimestamp !== undefined &&
          (written.metadata.finalizers ?? []).length === 0;
        await this.#delivered(ref.kind, written, gone);
        return written;
      } catch (error) {
        const conflicted = error instanceof ConflictError;
        if (!conflicted || wanted !== undefined || attempt >= writeAttempts) throw error;
      }
    }
  }

  async updateStatus(ref: ObjectRef, status: unknown, resourceVersion?: string): Promise<KObject> {
    const paths = kindPaths(ref.kind);
    const target = { ...ref, namespace: ref.namespace || this.#defaultNamespace };
    if (!paths.custom) throw new InvalidObjectError(`${ref.kind} has no status on Kubernetes`);
    await this.#watchSynced(ref.kind);
    for (let attempt = 1; ; attempt++) {
      let version = resourceVersion || undefined;
      if (version === undefined) {
        const live = await this.#current(paths, target, attempt > 1);
        if (live === undefined) throw new NotFoundError(target);
        if (jsonEqual(live.status ?? null, status ?? null)) return live;
        version = live.metadata.resourceVersion;
      }
      try {
        const written = await this.#send('PUT', `${paths.object(target)}/status`, target, {
          apiVersion: paths.apiVersion,
          kind: ref.kind,
          metadata: { name: target.name, namespace: target.namespace, resourceVersion: version },
          ...(status === undefined ? {} : { status }),
        });
        if (written.metadata.resourceVersion !== version) await this.#delivered(ref.kind, written, false);
        return written;
      } catch (error) {
        const conflicted = error instanceof ConflictError;
        if (!conflicted || resourceVersion || attempt >= writeAttempts) throw error;
      }
    }
  }

  async delete(ref: ObjectRef): Promise<boolean> {
    const paths = kindPaths(ref.kind);
    const target = { ...ref, namespace: ref.namespace || this.#defaultNamespace };
    await this.#watchSynced(ref.kind);
    let answer: KObject & { details?: { uid?: string } };
    try {
      answer = await this.rest.request('DELETE', paths.object(target));
    } catch (error) {
      if (isMissing(error)) return false;
      throw storeError(error, target);
    }
    // Core kinds answer with a Status (details.uid) once gone; custom resources with the object.
    if (answer.kind === 'Status') {
      const gone: KObject = {
        apiVersion: paths.apiVersion,
        kind: ref.kind,
        metadata: { name: target.name, namespace: target.namespace, uid: answer.details?.uid },
      };
      await this.#delivered(ref.kind, gone, true);
      return true;
    }
    const marked =
      answer.metadata.deletionTimestamp !== undefined && (answer.metadata.finalizers ?? []).length > 0;
    await this.#delivered(ref.kind, storedObject(answer), !marked);
    return true;
  }

  watch(kind: string | undefined, handler: (event: WatchEvent) => void): () => void {
    const key = kind === undefined ? allKinds : kindPaths(kind).resource.kind;
    let handlers = this.#handlers.get(key);
    if (handlers === undefined) this.#handlers.set(key, (handlers = new Set()));
    // Each subscription is its own entry, so the same function subscribed twice is called twice.
    const entry: Handler = (event) => handler(event);
    handlers.add(entry);
    for (const watched of kind === undefined ? storedKinds() : [key]) this.#startWatch(watched);
    return () => {
      handlers.delete(entry);
      for (const watched of kind === undefined ? storedKinds() : [key]) this.#stopUnwatched(watched);
    };
  }

  recordEvent(event: Omit<KedgeEvent, 'id' | 'count' | 'firstTimestamp' | 'lastTimestamp'>): Promise<void> {
    return this.#events.record(event);
  }

  listEvents(filter?: EventFilter): Promise<KedgeEvent[]> {
    return this.#events.list(filter, this.#scope);
  }

  appendHistory(ref: ObjectRef, entry: HistoryEntry, keep: number): Promise<HistoryEntry> {
    return this.#history.append(this.#withNamespace(ref), entry, keep);
  }

  listHistory(ref: ObjectRef, limit?: number): Promise<HistoryEntry[]> {
    return this.#history.entries(this.#withNamespace(ref), limit);
  }

  listHistoryOfKind(kind: string): Promise<Array<{ ref: ObjectRef; entry: HistoryEntry }>> {
    return this.#history.entriesOfKind(kind, this.#scope);
  }

  deleteHistory(ref: ObjectRef): Promise<void> {
    return this.#history.delete(this.#withNamespace(ref));
  }

  #withNamespace(ref: ObjectRef): ObjectRef {
    return { ...ref, namespace: ref.namespace || this.#defaultNamespace };
  }

  /** How many times the watch of `kind` listed (1 after its start; more after each re-list). 0 when not watched. */
  watchLists(kind: string): number {
    return this.#watches.get(kind)?.lists ?? 0;
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    for (const watch of this.#watches.values()) watch.stop();
    this.#watches.clear();
    this.#handlers.clear();
    this.rest.close();
    return Promise.resolve();
  }

  /**
   * A list answered from the kind's watch, as controller-runtime's cached client answers it: only when the watch
   * is healthy and covers the asked namespace (the store's label selector is the watch's own). In the API
   * server's order (namespace, then name). Undefined: ask the server.
   */
  #listFromWatch(kind: string, options: ListOptions): KObject[] | undefined {
    const watch = this.#watches.get(kind);
    if (!watch?.healthy) return undefined;
    if (this.#scope !== undefined && options.namespace !== undefined && options.namespace !== this.#scope)
      return undefined;
    const labels = Object.entries(options.labels ?? {});
    const found: [string, KObject][] = [];
    for (const [key, object] of watch.entries()) {
      if (options.namespace !== undefined && object.metadata.namespace !== options.namespace) continue;
      if (labels.some(([name, value]) => object.metadata.labels?.[name] !== value)) continue;
      found.push([key, object]);
    }
    found.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return found.map(([, object]) => structuredClone(object));
  }

  /**
   * The object as the kind's watch holds it, when the watch is healthy and the object in its scope (this
   * process's writes are in it, since a write settles once delivered; other writers' as soon as their events
   * arrive); else, or with `fresh`, as the server has it. A miss in the watch is an answer only without a
   * label selector.
   */
  async #current(paths: KindPaths, ref: ObjectRef, fresh = false): Promise<KObject | undefined> {
    const watch = this.#watches.get(ref.kind);
    if (!fresh && watch?.healthy && (this.#scope === undefined || this.#scope === ref.namespace)) {
      const held = watch.held(`${ref.namespace}/${ref.name}`);
      if (held !== undefined) return structuredClone(held);
      if (this.#selector === undefined) return undefined;
    }
    return this.#read(paths, ref);
  }

  /** The healthy watch's copy of `ref` if it is at resourceVersion `version`. */
  #heldAt(ref: ObjectRef, version: string | undefined): KObject | undefined {
    const watch = this.#watches.get(ref.kind);
    if (version === undefined || !watch?.healthy) return undefined;
    const held = watch.held(`${ref.namespace}/${ref.name}`);
    return held?.metadata.resourceVersion === version ? structuredClone(held) : undefined;
  }

  async #read(paths: KindPaths, ref: ObjectRef): Promise<KObject | undefined> {
    try {
      return storedObject(await this.rest.request<KObject>('GET', paths.object(ref)));
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw storeError(error, ref);
    }
  }

  async #send(
    method: 'POST' | 'PUT',
    path: string,
    ref: ObjectRef,
    body: KObject,
    dryRun = false,
  ): Promise<KObject> {
    const query = { ...this.#writeQuery, ...(dryRun ? { dryRun: 'All' } : {}) };
    try {
      return storedObject(await this.rest.request<KObject>(method, path, { body, query }));
    } catch (error) {
      throw storeError(error, ref);
    }
  }

  #startWatch(kind: string): void {
    if (this.#closed || this.#watches.has(kind)) return;
    const paths = kindPaths(kind);
    const watch = new KindWatch({
      kubeConfig: this.#kubeConfig,
      rest: this.rest,
      kind,
      apiVersion: paths.apiVersion,
      path: paths.collection(this.#scope),
      labelSelector: this.#selector?.text,
      deliver: (event) => this.#deliver(event),
      onError: (error) => this.options.onWatchError?.(kind, error),
    });
    this.#watches.set(kind, watch);
    watch.start();
  }

  #stopUnwatched(kind: string): void {
    if ((this.#handlers.get(kind)?.size ?? 0) > 0 || (this.#handlers.get(allKinds)?.size ?? 0) > 0) return;
    this.#watches.get(kind)?.stop();
    this.#watches.delete(kind);
  }

  #deliver(event: WatchEvent): void {
    for (const key of [event.object.kind, allKinds]) {
      for (const handler of [...(this.#handlers.get(key) ?? [])]) {
        try {
          handler(structuredClone(event));
        } catch (error) {
          (
            this.options.onWatchHandlerError ??
            ((e) => process.emitWarning(`kedge store watch handler failed: ${String(e)}`))
          )(error);
        }
      }
    }
  }

  /** A write to a kind being watched waits for the watch's first list, so the write is delivered as a change. */
  async #watchSynced(kind: string): Promise<void> {
    const watch = this.#watches.get(kind);
    if (watch !== undefined && !watch.firstListSettled)
      await watch.until(() => watch.firstListSettled, this.#deliveryTimeoutMs);
  }

  /**
   * Waits (bounded) until the kind's watch, if any, has delivered the write: the object's new resourceVersion,
   * or for a deletion its absence. Objects outside the watched namespace or selection are not waited for.
   */
  async #delivered(kind: string, object: KObject, gone: boolean): Promise<void> {
    const watch = this.#watches.get(kind);
    // A watch that is down delivers the write when it has listed again; holding the write up helps nobody.
    if (watch === undefined || !watch.healthy) return;
    const key = keyOf(object);
    if (!this.#inScope(object) && watch.held(key) === undefined) return;
    const ready = gone
      ? () => {
          const held = watch.held(key);
          return held === undefined || held.metadata.uid !== object.metadata.uid;
        }
      : () => watch.seen(object.metadata.resourceVersion ?? '');
    await watch.until(ready, this.#deliveryTimeoutMs);
  }

  #inScope(object: KObject): boolean {
    if (this.#scope !== undefined && object.metadata.namespace !== this.#scope) return false;
    return this.#selector === undefined || this.#selector.matches(object.metadata.labels);
  }

  #validRef(object: KObject): ObjectRef {
    const problems: string[] = [];
    if (typeof object.apiVersion !== 'string' || object.apiVersion === '')
      problems.push('apiVersion is missing');
    if (typeof object.kind !== 'string' || object.kind === '') problems.push('kind is missing');
    if (typeof object.metadata?.name !== 'string' || object.metadata.name === '')
      problems.push('metadata.name is missing');
    if (problems.length > 0)
      throw new InvalidObjectError(
        `${problems.join(', ')} (${String(object.kind)} ${String(object.metadata?.name)})`,
      );
    return {
      kind: object.kind,
      namespace: object.metadata.namespace || this.#defaultNamespace,
      name: object.metadata.name,
    };
  }
}
