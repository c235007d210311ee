import { describe, expect, it } from 'vitest';
import { PriorityLane } from './priority-lane.ts';

/** A lane whose runs wait until the test releases them, recording what each run got. */
function gatedLane(concurrency: number) {
  const runs: { key: string; items: string[] }[] = [];
  const gates: (() => void)[] = [];
  const lane = new PriorityLane<string>(concurrency, async (key, items) => {
    runs.push({ key, items });
    await new Promise<void>((resolve) => gates.push(resolve));
  });
  const settle = () => new Promise((resolve) => setImmediate(resolve));
  return {
    lane,
    runs,
    release: async () => {
      gates.shift()?.();
      await settle();
    },
    settle,
  };
}

describe('PriorityLane', () => {
  it('coalesces items that arrive while a key runs into one next run', async () => {
    const { lane, runs, release, settle } = gatedLane(2);
    lane.add('a', 'x');
    await settle();
    for (const item of ['x', 'y', 'x', 'y', 'z']) lane.add('a', item);
    await settle();
    expect(runs).toEqual([{ key: 'a', items: ['x'] }]);
    await release();
    expect(runs).toEqual([
      { key: 'a', items: ['x'] },
      { key: 'a', items: ['x', 'y', 'z'] },
    ]);
    await release();
    expect(runs).toHaveLength(2);
  });

  it('runs other keys beside a long run, up to its concurrency', async () => {
    const { lane, runs, release, settle } = gatedLane(2);
    lane.add('slow', '1');
    lane.add('b', '1');
    lane.add('c', '1');
    await settle();
    expect(runs.map((r) => r.key)).toEqual(['slow', 'b']);
    await release();
    expect(runs.map((r) => r.key)).toEqual(['slow', 'b', 'c']);
  });

  it('forgets what is pending for a dropped key, and everything once closed', async () => {
    const { lane, runs, release, settle } = gatedLane(1);
    lane.add('a', '1');
    lane.add('b', '1');
    lane.drop('b');
    await settle();
    await release();
    lane.close();
    lane.add('c', '1');
    await settle();
    expect(runs.map((r) => r.key)).toEqual(['a']);
  });
});
