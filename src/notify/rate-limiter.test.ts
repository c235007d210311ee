import { describe, expect, it } from 'vitest';
import { RateLimiter } from './rate-limiter.ts';

describe('RateLimiter', () => {
  it('allows the burst, refuses past it, refills over time, per key', () => {
    const limiter = new RateLimiter(1, 3);
    expect([1, 2, 3, 4].map(() => limiter.take('a', 0))).toEqual([true, true, true, false]);
    expect(limiter.take('b', 0)).toBe(true);
    expect(limiter.take('a', 999)).toBe(false);
    expect(limiter.take('a', 1000)).toBe(true);
  });

  it('tracks a bounded number of keys, forgetting the least recently used first', () => {
    const limiter = new RateLimiter(1, 2, 100);
    const size = () => (limiter as unknown as { buckets: Map<string, unknown> }).buckets.size;
    expect([1, 2, 3].map(() => limiter.take('busy', 0))).toEqual([true, true, false]);
    for (let i = 0; i < 98; i++) limiter.take(`client-${i}`, 0);
    expect(limiter.take('busy', 0)).toBe(false); // still tracked, still limited
    for (let i = 0; i < 1000; i++) limiter.take(`other-${i}`, 0);
    expect(size()).toBeLessThanOrEqual(100);
  });
});
