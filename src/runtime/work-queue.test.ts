import { describe, expect, it } from 'vitest';
import { Backoff } from './backoff.ts';
import { WorkQueue } from './work-queue.ts';

describe('WorkQueue', () => {
  it('hands out a key once however often it is added', async () => {
    const q = new WorkQueue();
    q.add('a');
    q.add('a');
    q.add('b');
    expect(q.length).toBe(2);
    expect(await q.get()).toBe('a');
    expect(await q.get()).toBe('b');
    expect(q.length).toBe(0);
  });

  it('re-queues a key added while it was processed, only after done', async () => {
    const q = new WorkQueue();
    q.add('a');
    const key = await q.get();
    q.add('a');
    expect(q.length).toBe(0);
    q.done(key!);
    expect(q.length).toBe(1);
  });

  it('keeps the earliest of two delayed adds', async () => {
    const q = new WorkQueue();
    q.addAfter('a', 60_000);
    q.addAfter('a', 10);
    expect(await q.get()).toBe('a');
    q.shutDown();
  });

  it('releases waiting workers on shutdown', async () => {
    const q = new WorkQueue();
    const waiting = q.get();
    q.shutDown();
    expect(await waiting).toBeUndefined();
  });
});

describe('Backoff', () => {
  it('doubles per failure up to the cap and starts over after forget', () => {
    const b = new Backoff(100, 500);
    expect([b.next('k'), b.next('k'), b.next('k'), b.next('k')]).toEqual([100, 200, 400, 500]);
    b.forget('k');
    expect(b.next('k')).toBe(100);
  });
});
