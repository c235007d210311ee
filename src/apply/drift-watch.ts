import { DefaultFieldManager } from './apply-manager.ts';
import { KubeApiError, isNotFound } from './errors.ts';
import type { KubeTarget } from './kube-client.ts';
import { applyEntry, formatPath, hasPath, leafPaths, valueAt } from './managed-fields.ts';
import { identityOf, objectId, objectLabel, type KubeObject, type ObjectIdentity } from './object-id.ts';
import { manifestDrift } from './manifest-drift.ts';
import { isOwnedBy, withOwnerLabels, type Owner } from './owner-labels.ts';
import type { SharedInformer } from './shared-informer.ts';
import { jsonEqual } from './semantic-diff.ts';

/** How long an object missing from a shared informer at start may take to arrive before it is read. */
const INFORMER_CATCH_UP_MS = 2000;

/** An out-of-band change to an applied object. */
export interface DriftEvent {
  /** Inventory id. */
  id: string;
  /** `Kind/namespace/name`. */
  subject: string;
  ref: ObjectIdentity;
  /** The object was deleted. */
  deleted: boolean;
  /** Paths of the changed fields that our field manager owned, e.g. `data.mode`, `spec.template.spec.containers[name=app].image`. */
  fields: string[];
}

export interface DriftWatchOptions {
  owner: Owner;
  /** The objects to guard (the applied set or the inventory); others carrying the owner labels are ignored. */
  objects: readonly ObjectIdentity[];
  /**
   * The manifests as applied (owner labels are added here). An object with a manifest is judged against it
   * instead of `metadata.managedFields` — this also catches a forced server-side apply by another manager that
   * takes our fields over — and is checked as soon as the watch lists it (drift from before the watch counts).
   */
  applied?: readonly KubeObject[];
  /** Default `kustomize-controller`. */
  fieldManager?: string;
  onDrift(event: DriftEvent): void;
  /** A watch failed; it retries on its own. */
  onError?(error: unknown): void;
}

/**
 * Watches the objects an owner applied and reports, as soon as the watch event arrives, a deletion or a change
 * to a field we applied: per the applied manifest when given ({@link DriftWatchOptions.applied}), else a field
 * owned by our field manager (per `metadata.managedFields`). Changes by other managers to fields we do not set
 * (an HPA's replicas, a controller's annotation) and our own applies are not drift. It listens to the target's
 * shared informers (one list-then-watch per kind for every owner, see {@link KubeTarget.informerFor}), so a
 * Kustomization adds no request and no stream of its own. Idle cost: nothing but those streams.
 */
export class DriftWatch {
  readonly #unsubscribe: (() => void)[] = [];
  readonly #informers = new Map<string, SharedInformer>();
  readonly #baseline = new Map<string, KubeObject>();
  readonly #tracked: Map<string, ObjectIdentity>;
  readonly #manifests = new Map<string, KubeObject>();
  readonly #fieldManager: string;
  #stopped = false;

  constructor(
    private readonly target: KubeTarget,
    private readonly options: DriftWatchOptions,
  ) {
    this.#tracked = new Map(options.objects.map((ref) => [objectId(ref), ref]));
    this.#fieldManager = options.fieldManager ?? DefaultFieldManager;
    for (const [id, ref] of this.#tracked) {
      const manifest = options.applied?.find((m) => sameObject(identityOf(m), ref));
      if (!manifest) continue;
      const labelled = withOwnerLabels(manifest, options.owner);
      if (ref.namespace === '') delete labelled.metadata.namespace;
      this.#manifests.set(id, labelled);
    }
  }

  /** Resolves when every watch has its initial state; from then on every drift is reported. */
  async start(): Promise<void> {
    const byKind = new Map<string, ObjectIdentity[]>();
    for (const ref of this.#tracked.values())
      byKind.set(`${ref.apiVersion}|${ref.kind}`, [
        ...(byKind.get(`${ref.apiVersion}|${ref.kind}`) ?? []),
        ref,
      ]);
    try {
      for (const [key, refs] of byKind) {
        const informer = await this.#informerFor(refs);
        if (this.#stopped) return;
        this.#informers.set(key, informer);
        this.#unsubscribe.push(
          informer.subscribe({
            onList: (items) => this.#onList(refs, items),
            onEvent: (type, obj) => (type === 'DELETED' ? this.#onDeleted(obj) : this.#onChanged(obj)),
            onError: (error) => this.options.onError?.(error),
          }),
        );
        const present = refs.filter((ref) => informer.get(objectId(ref)));
        this.#onList(present, informer.all);
        // An object applied a moment ago may not have reached a shared informer yet: look again shortly, then
        // read the server for what is still missing (deleted, or our labels removed).
        const missing = refs.filter((ref) => !informer.get(objectId(ref)));
        if (missing.length > 0) {
          const timer = setTimeout(
            () =>
              this.#onList(
                missing.filter((ref) => !informer.get(objectId(ref))),
                informer.all,
              ),
            INFORMER_CATCH_UP_MS,
          );
          this.#unsubscribe.push(() => clearTimeout(timer));
        }
      }
    } catch (error) {
      this.stop();
      throw error;
    }
  }

  /** Stops listening; no callback fires afterwards. */
  stop(): void {
    this.#stopped = true;
    for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe();
    this.#informers.clear();
    this.#baseline.clear();
  }

  /** Every informer this watch uses holds the server's state (listed, watching, no failure since). */
  get synced(): boolean {
    return (
      !this.#stopped && this.#informers.size > 0 && [...this.#informers.values()].every((i) => i.healthy)
    );
  }

  /** The object as the watch last saw it (any owner's labels); undefined when absent or not tracked. */
  live(ref: ObjectIdentity): KubeObject | undefined {
    return this.#informers.get(`${ref.apiVersion}|${ref.kind}`)?.get(objectId(ref));
  }

  /** The applied manifest of a tracked object, with the owner labels. */
  manifest(id: string): KubeObject | undefined {
    return this.#manifests.get(id);
  }

  /** The tracked object of an inventory id. */
  tracked(id: string): ObjectIdentity | undefined {
    return this.#tracked.get(id);
  }

  /** Per the watched state: the object is gone, no longer ours, or differs from its manifest. */
  differs(id: string): boolean {
    const ref = this.#tracked.get(id);
    const manifest = this.#manifests.get(id);
    if (!ref || !manifest) return true;
    const live = this.live(ref);
    return !live || !isOwnedBy(live as never, this.options.owner) || manifestDrift(manifest, live).length > 0;
  }

  /** The shared informer of a kind: cluster-wide, else (not allowed to list it cluster-wide) the one namespace. */
  async #informerFor(refs: ObjectIdentity[]): Promise<SharedInformer> {
    const { apiVersion, kind } = refs[0]!;
    try {
      return await this.target.informerFor(apiVersion, kind);
    } catch (error) {
      const namespaces = new Set(refs.map((r) => r.namespace));
      if (
        !(error instanceof KubeApiError && error.code === 403) ||
        namespaces.size !== 1 ||
        refs[0]!.namespace === ''
      )
        throw error;
      return this.target.informerFor(apiVersion, kind, refs[0]!.namespace);
    }
  }

  #onList(refs: ObjectIdentity[], byId: ReadonlyMap<string, KubeObject>): void {
    for (const ref of refs) {
      const id = objectId(ref);
      const item = byId.get(id);
      const known = this.#baseline.get(id) ?? this.#manifests.get(id);
      if (item) this.#onChanged(item);
      else if (known) this.#onDeleted(known);
    }
  }

  #onChanged(obj: KubeObject): void {
    const id = objectId(identityOf(obj));
    const ref = this.#tracked.get(id);
    if (!ref) return;
    const before = this.#baseline.get(id);
    this.#baseline.set(id, obj);
    const manifest = this.#manifests.get(id);
    if (manifest && (obj.metadata as { deletionTimestamp?: string }).deletionTimestamp) return;
    if (!manifest && !before) return;
    const fields = manifest
      ? manifestDrift(manifest, obj)
      : ownedFieldChanges(before!, obj, this.#fieldManager);
    if (fields.length > 0) this.#emit(ref, false, fields);
  }

  #onDeleted(obj: KubeObject): void {
    const id = objectId(identityOf(obj));
    const ref = this.#tracked.get(id);
    if (!ref) return;
    const before = this.#baseline.get(id);
    this.#baseline.delete(id);
    // A label-filtered watch also reports DELETED (with the old state) when the owner labels were changed:
    // read the object to tell a deletion from a label edit.
    void this.#readLive(ref).then(
      (live) => {
        const manifest = this.#manifests.get(id);
        if (
          live &&
          (manifest || before) &&
          !isOwnedBy(live as { metadata?: { labels?: Record<string, string> } }, this.options.owner)
        ) {
          this.#emit(
            ref,
            false,
            manifest ? manifestDrift(manifest, live) : ownedFieldChanges(before!, live, this.#fieldManager),
          );
        } else if (!live) this.#emit(ref, true, []);
      },
      (error: unknown) => this.options.onError?.(error),
    );
  }

  async #readLive(ref: ObjectIdentity): Promise<KubeObject | undefined> {
    const path = await this.target.discovery.pathFor(ref.apiVersion, ref.kind, ref.namespace, ref.name);
    return this.target.rest.request<KubeObject>('GET', path).catch((error: unknown) => {
      if (isNotFound(error)) return undefined;
      throw error;
    });
  }

  #emit(ref: ObjectIdentity, deleted: boolean, fields: string[]): void {
    if (this.#stopped) return;
    this.options.onDrift({ id: objectId(ref), subject: objectLabel(ref), ref, deleted, fields });
  }
}

/** Same object, a cluster-scoped one matching a manifest that names a namespace anyway. */
function sameObject(manifest: ObjectIdentity, ref: ObjectIdentity): boolean {
  return (
    manifest.kind === ref.kind &&
    manifest.name === ref.name &&
    manifest.apiVersion.split('/').slice(0, -1).join('/') ===
      ref.apiVersion.split('/').slice(0, -1).join('/') &&
    (ref.namespace === '' || manifest.namespace === ref.namespace)
  );
}

/**
 * The fields `fieldManager` owned in `before` whose value differs in `after` and that it no longer owns there:
 * changed by someone else. Empty when the manager's own Apply entry changed time (our own write).
 */
export function ownedFieldChanges(before: KubeObject, after: KubeObject, fieldManager: string): string[] {
  const was = applyEntry(before as never, fieldManager);
  const now = applyEntry(after as never, fieldManager);
  if (!was?.fieldsV1) return [];
  if (now && now.time !== was.time) return [];
  return leafPaths(was.fieldsV1)
    .filter(
      (path) => !jsonEqual(valueAt(before, path), valueAt(after, path)) && !hasPath(now?.fieldsV1, path),
    )
    .map(formatPath);
}
