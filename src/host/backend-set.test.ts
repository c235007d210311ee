import { describe, expect, it } from 'vitest';
import { BackendSet } from './backend-set.ts';

describe('BackendSet', () => {
  it('hands out the current backends round-robin and never a removed one', async () => {
    const set = new BackendSet();
    set.set([1, 2]);
    const picked = [await set.acquire(new Set(), Date.now()), await set.acquire(new Set(), Date.now())];
    expect(picked.sort()).toEqual([1, 2]);
    set.set([2]);
    for (let i = 0; i < 4; i++) expect(await set.acquire(new Set(), Date.now())).toBe(2);
    expect(await set.acquire(new Set([2]), Date.now())).toBeUndefined();
  });

  it('take() hands out a backend at once, skipping those already tried, and none when all were', () => {
    const set = new BackendSet();
    expect(set.take()).toBeUndefined();
    set.set([1, 2, 3]);
    expect(set.take(new Set([1, 3]))).toBe(2);
    expect(set.take(new Set([1, 2, 3]))).toBeUndefined();
    const picked = [set.take(), set.take(), set.take()];
    expect(picked.sort()).toEqual([1, 2, 3]);
    set.close();
    expect(set.take()).toBeUndefined();
  });

  it('resolves idle() when the last use of a backend ends, not before', async () => {
    const set = new BackendSet();
    set.set([7]);
    await set.acquire(new Set(), Date.now());
    await set.acquire(new Set(), Date.now());
    let idle = false;
    const drained = set.idle(7, 60_000).then(() => (idle = true));
    set.release(7);
    await Promise.resolve();
    expect(idle).toBe(false);
    set.release(7);
    await drained;
    expect(idle).toBe(true);
  });

  it('gives a waiting client the backend that becomes ready', async () => {
    const set = new BackendSet();
    const waiting = set.acquire(new Set(), Date.now() + 60_000);
    set.set([9]);
    expect(await waiting).toBe(9);
  });
});
