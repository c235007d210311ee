import { resourcePath } from './api-discovery.ts';
import { DefaultFieldManager } from './apply-manager.ts';
import { CollectionWatch } from './collection-watch.ts';
import { isNotFound } from './errors.ts';
import type { KubeTarget } from './kube-client.ts';
import { applyEntry, formatPath, hasPath, leafPaths, valueAt } from './managed-fields.ts';
import { identityOf, objectId, objectLabel, type KubeObject, type ObjectIdentity } from './object-id.ts';
import { manifestDrift } from './manifest-drift.ts';
import { isOwnedBy, ownerSelector, withOwnerLabels, type Owner } from './owner-labels.ts';
import { jsonEqual } from './semantic-diff.ts';

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
 * Watches the objects an owner applied (one list-then-watch per kind, filtered by the owner labels) and
 * reports, as soon as the watch event arrives, a deletion or a change to a field we applied: per the applied
 * manifest when given ({@link DriftWatchOptions.applied}), else a field owned by our field manager (per
 * `metadata.managedFields`). Changes by other managers to fields we do not set (an HPA's replicas, a
 * controller's annotation) and our own applies are not drift. Idle cost: open watch streams, no polling.
 */
export class DriftWatch {
  readonly #watches: CollectionWatch[] = [];
  readonly #baseline = new Map<string, KubeObject>();
  readonly #tracked: Map<string, ObjectIdentity>;
  readonly #manifests = new Map<string, KubeObject>();
  readonly #fieldManager: string;
  #stopped = false;

  constructor(private readonly target: KubeTarget, private readonly options: DriftWatchOptions) {
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
    for (const ref of this.#tracked.values()) byKind.set(`${ref.apiVersion}|${ref.kind}`, [...(byKind.get(`${ref.apiVersion}|${ref.kind}`) ?? []), ref]);
    try {
      for (const refs of byKind.values()) {
        const resource = await this.target.discovery.resourceFor(refs[0]!.apiVersion, refs[0]!.kind);
        const namespaces = new Set(refs.map((r) => r.namespace));
        const namespace = resource.namespaced && namespaces.size === 1 ? refs[0]!.namespace : undefined;
        const watch = new CollectionWatch({
          kubeConfig: this.target.kubeConfig,
          rest: this.target.rest,
          apiVersion: refs[0]!.apiVersion,
          kind: refs[0]!.kind,
          path: resourcePath(resource, namespace),
          labelSelector: ownerSelector(this.options.owner),
          onList: (items) => this.#onList(refs, items),
          onEvent: (type, obj) => (type === 'DELETED' ? this.#onDeleted(obj) : this.#onChanged(obj)),
          onError: (error) => this.options.onError?.(error),
        });
        this.#watches.push(watch);
        await watch.start();
      }
    } catch (error) {
      this.stop();
      throw error;
    }
  }

  /** Closes every watch; no callback fires afterwards. */
  stop(): void {
    this.#stopped = true;
    for (const watch of this.#watches.splice(0)) watch.stop();
    this.#baseline.clear();
  }

  #onList(refs: ObjectIdentity[], items: KubeObject[]): void {
    const byId = new Map(items.map((item) => [objectId(identityOf(item)), item]));
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
    const fields = manifest ? manifestDrift(manifest, obj) : ownedFieldChanges(before!, obj, this.#fieldManager);
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
        if (live && (manifest || before) && !isOwnedBy(live as { metadata?: { labels?: Record<string, string> } }, this.options.owner)) {
          this.#emit(ref, false, manifest ? manifestDrift(manifest, live) : ownedFieldChanges(before!, live, this.#fieldManager));
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
    manifest.apiVersion.split('/').slice(0, -1).join('/') === ref.apiVersion.split('/').slice(0, -1).join('/') &&
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
    .filter((path) => !jsonEqual(valueAt(before, path), valueAt(after, path)) && !hasPath(now?.fieldsV1, path))
    .map(formatPath);
}
