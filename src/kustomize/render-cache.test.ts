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

  it('keeps one render per Kustomization, whatever their number, until it is replaced or deleted', () => {
    const cache = new RenderCache();
    for (let i = 0; i < 1000; i++) cache.set(`default/app-${i}`, key('a'), [obj(`a-${i}`)]);
    expect(cache.size).toBe(1000);
    expect(cache.get('default/app-0', key('a'))).toEqual([obj('a-0')]);
    expect(cache.get('default/app-999', key('a'))).toEqual([obj('a-999')]);
    // Another revision misses and then replaces the slot's render.
    expect(cache.get('default/app-0', key('b'))).toBeUndefined();
    cache.set('default/app-0', key('b'), [obj('b-0')]);
    expect(cache.get('default/app-0', key('a'))).toBeUndefined();
    expect(cache.get('default/app-0', key('b'))).toEqual([obj('b-0')]);
    expect(cache.size).toBe(1000);
    cache.delete('default/app-0');
    expect(cache.size).toBe(999);
    expect(cache.get('default/app-0', key('b'))).toBeUndefined();
    expect({ hits: cache.hits, misses: cache.misses }).toEqual({ hits: 3, misses: 3 });
  });

  it('hands out copies, so a caller cannot corrupt the cache', () => {
    const cache = new RenderCache();
    cache.set('default/a', key('a'), [obj('a')]);
    const got = cache.get('default/a', key('a'));
    if (got?.[0]) got[0].metadata.name = 'mutated';
    expect(cache.get('default/a', key('a'))).toEqual([obj('a')]);
  });
});
