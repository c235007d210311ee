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
 * A least-recently-used cache of rendered objects, so an unchanged revision is never rebuilt. Values are
 * copied in and out: callers may mutate what they get. `hits`, `misses` and `size` are observable.
 */
export class RenderCache {
  private readonly entries = new Map<string, KObject[]>();
  hits = 0;
  misses = 0;

  /** @param capacity Maximum number of renders kept. Default 256. */
  constructor(readonly capacity = 256) {}

  get size(): number {
    return this.entries.size;
  }

  get(key: RenderKey): KObject[] | undefined {
    const id = renderKeyOf(key);
    const found = this.entries.get(id);
    if (!found) {
      this.misses += 1;
      return undefined;
    }
    this.hits += 1;
    this.entries.delete(id);
    this.entries.set(id, found);
    return structuredClone(found);
  }

  set(key: RenderKey, objects: KObject[]): void {
    const id = renderKeyOf(key);
    this.entries.delete(id);
    this.entries.set(id, structuredClone(objects));
    while (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
  }
}
