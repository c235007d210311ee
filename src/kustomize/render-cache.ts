import { createHash } from 'node:crypto';
import type { KObject } from '../api/meta.ts';
import type { KustomizeOverlay } from './overlay.ts';
import type { Substitutions } from './substitute.ts';

/** Everything a render depends on. Equal keys render equal objects. */
export interface RenderKey {
  /** The artifact digest, `sha256:<hex>`. */
  digest: string;
  path: string;
  overlay?: KustomizeOverlay;
  substitutions?: Substitutions;
}

/** Stable JSON: object keys sorted, so field order never splits the cache. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

/** The cache key: a SHA-256 over the canonical form, so substitution values are never kept in memory as keys. */
export function renderKeyOf(key: RenderKey): string {
  return createHash('sha256').update(canonical(key)).digest('hex');
}

/**
 * The last render of each live Kustomization, so an unchanged revision is never fetched, extracted or rebuilt.
 * One entry per slot (a Kustomization's `namespace/name`): a render with another key replaces it, and the owner
 * drops it with {@link RenderCache.delete} when the Kustomization goes. Memory is bounded by the live
 * Kustomizations, not by a capacity that a large N would overflow at every interval. Values are copied in and
 * out: callers may mutate what they get. `hits`, `misses` and `size` are observable.
 */
export class RenderCache {
  private readonly entries = new Map<string, { key: string; objects: KObject[] }>();
  hits = 0;
  misses = 0;

  get size(): number {
    return this.entries.size;
  }

  /** The slot's render when it was made from `key`, else undefined. */
  get(slot: string, key: RenderKey): KObject[] | undefined {
    const found = this.entries.get(slot);
    if (!found || found.key !== renderKeyOf(key)) {
      this.misses += 1;
      return undefined;
    }
    this.hits += 1;
    return structuredClone(found.objects);
  }

  /** Records the slot's render of `key`, replacing the one it had. */
  set(slot: string, key: RenderKey, objects: KObject[]): void {
    this.entries.set(slot, { key: renderKeyOf(key), objects: structuredClone(objects) });
  }

  /** Forgets the slot (its Kustomization was deleted). */
  delete(slot: string): void {
    this.entries.delete(slot);
  }
}
