import { describe, expect, it } from 'vitest';
import type { KObject } from '../api/meta.ts';
import { RenderCache, renderKeyOf } from './render-cache.ts';

const obj = (name: string): KObject => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name } });
const key = (digest: string) => ({ digest, path: 'apps' });

describe('RenderCache', () => {
  it('keys ignore field order but not values', () => {
    const a = { digest: 'd', path: 'p', overlay: { namePrefix: 'x', nameSuffix: 'y' } };
    const b = { path: 'p', overlay: { nameSuffix: 'y', namePrefix: 'x' }, digest: 'd' };
    expect(renderKeyOf(a)).toBe(renderKeyOf(b));
    expect(renderKeyOf(a)).not.toBe(renderKeyOf({ ...a, substitutions: { substitute: { v: '1' } } }));
  });

  it('evicts the least recently used entry beyond capacity', () => {
    const cache = new RenderCache(2);
    cache.set(key('a'), [obj('a')]);
    cache.set(key('b'), [obj('b')]);
    expect(cache.get(key('a'))).toEqual([obj('a')]);
    cache.set(key('c'), [obj('c')]);
    expect(cache.get(key('b'))).toBeUndefined();
    expect(cache.get(key('a'))).toBeDefined();
    expect(cache.size).toBe(2);
    expect({ hits: cache.hits, misses: cache.misses }).toEqual({ hits: 2, misses: 1 });
  });

  it('hands out copies, so a caller cannot corrupt the cache', () => {
    const cache = new RenderCache();
    cache.set(key('a'), [obj('a')]);
    const got = cache.get(key('a'));
    if (got?.[0]) got[0].metadata.name = 'mutated';
    expect(cache.get(key('a'))).toEqual([obj('a')]);
  });
});
