import { Conditions } from '../../api/conditions.ts';
import { KustomizationKind, type Kustomization } from '../../api/kustomization.ts';
import type { ObjectRef } from '../../api/meta.ts';
import type { Store, WatchEvent } from '../../store/store.ts';

/** What the source and dependency watches need to know of one Kustomization. */
export interface IndexedKustomization {
  ref: ObjectRef;
  /** `Kind/namespace/name` of its source. */
  source: string;
  /** `namespace/name` of each `dependsOn` entry. */
  dependsOn: string[];
  /** `namespace/name` of the `dependsOn` entries judged by a `readyExpr` (ready without being Ready=True). */
  dependsOnByExpr: string[];
  lastAttemptedRevision?: string;
  lastAppliedRevision?: string;
  readyReason?: string;
}

/** `Kind/namespace/name` of a Kustomization's source. */
export function sourceKeyOf(k: Kustomization): string {
  const s = k.spec?.sourceRef;
  const namespace = k.metadata.namespace ?? 'default';
  return `${s?.kind ?? ''}/${s?.namespace ?? namespace}/${s?.name ?? ''}`;
}

/**
 * The Kustomizations by source and by dependency, kept from the Kustomization watch, so that a source's or a
 * Kustomization's status write costs a look-up of the objects that refer to it instead of a list of every
 * Kustomization (which made each write O(N), a converge O(N²)). Filled by one list on first use; every later
 * change arrives as a watch event, applied in order.
 */
export class KustomizationIndex {
  readonly #byKey = new Map<string, IndexedKustomization>();
  readonly #bySource = new Map<string, Set<string>>();
  readonly #byDependency = new Map<string, Set<string>>();
  #tail: Promise<void> | undefined;

  constructor(private readonly store: Store) {}

  /** Applies a Kustomization watch event. */
  observe(event: WatchEvent): Promise<void> {
    return this.#then(() => {
      const k = event.object as Kustomization;
      if (event.type === 'DELETED') this.#remove(keyOf(k));
      else this.#put(k);
    });
  }

  /** The Kustomizations whose source is `source` (`Kind/namespace/name`). */
  async usingSource(source: string): Promise<IndexedKustomization[]> {
    await this.#then(() => undefined);
    return this.#members(this.#bySource.get(source));
  }

  /** The Kustomizations that list `namespace/name` in `dependsOn`. */
  async dependentsOf(dependency: string): Promise<IndexedKustomization[]> {
    await this.#then(() => undefined);
    return this.#members(this.#byDependency.get(dependency));
  }

  #then(step: () => void): Promise<void> {
    this.#tail ??= this.store.list(KustomizationKind).then((all) => {
      for (const k of all) this.#put(k as Kustomization);
    });
    this.#tail = this.#tail.then(step);
    return this.#tail;
  }

  #members(keys: Set<string> | undefined): IndexedKustomization[] {
    return [...(keys ?? [])].map((key) => this.#byKey.get(key)!).filter(Boolean);
  }

  #put(k: Kustomization): void {
    const key = keyOf(k);
    this.#remove(key);
    const namespace = k.metadata.namespace ?? 'default';
    const entry: IndexedKustomization = {
      ref: { kind: KustomizationKind, namespace, name: k.metadata.name },
      source: sourceKeyOf(k),
      dependsOn: (k.spec?.dependsOn ?? []).map((d) => `${d.namespace ?? namespace}/${d.name}`),
      dependsOnByExpr: (k.spec?.dependsOn ?? [])
        .filter((d) => d.readyExpr !== undefined)
        .map((d) => `${d.namespace ?? namespace}/${d.name}`),
      lastAttemptedRevision: k.status?.lastAttemptedRevision,
      lastAppliedRevision: k.status?.lastAppliedRevision,
      readyReason: k.status?.conditions?.find((c) => c.type === Conditions.Ready)?.reason,
    };
    this.#byKey.set(key, entry);
    add(this.#bySource, entry.source, key);
    for (const d of entry.dependsOn) add(this.#byDependency, d, key);
  }

  #remove(key: string): void {
    const entry = this.#byKey.get(key);
    if (!entry) return;
    this.#byKey.delete(key);
    this.#bySource.get(entry.source)?.delete(key);
    for (const d of entry.dependsOn) this.#byDependency.get(d)?.delete(key);
  }
}

function keyOf(k: Kustomization): string {
  return `${k.metadata.namespace ?? 'default'}/${k.metadata.name}`;
}

function add(map: Map<string, Set<string>>, key: string, member: string): void {
  let set = map.get(key);
  if (!set) map.set(key, (set = new Set()));
  set.add(member);
}
