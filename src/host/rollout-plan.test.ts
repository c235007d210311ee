import { describe, expect, it } from 'vitest';
import { planRollout, type PlannedReplica } from './rollout-plan.ts';

const r = (index: number, updated: boolean, ready: boolean): PlannedReplica => ({ index, updated, ready });

describe('planRollout', () => {
  it.each([
    { name: 'first deploy starts every replica', desired: 2, surge: 1, unavail: 0, replicas: [], start: 2, stop: [] },
    { name: 'surge 1: one new beside two ready old', desired: 2, surge: 1, unavail: 0, replicas: [r(0, false, true), r(1, false, true)], start: 1, stop: [] },
    { name: 'a new replica ready: one old goes, one more new starts', desired: 2, surge: 1, unavail: 0, replicas: [r(0, false, true), r(1, false, true), r(2, true, true)], start: 1, stop: [1] },
    { name: 'a new replica never ready: nothing moves', desired: 2, surge: 1, unavail: 0, replicas: [r(0, false, true), r(1, false, true), r(2, true, false)], start: 0, stop: [] },
    { name: 'unready old replicas go at once', desired: 2, surge: 1, unavail: 0, replicas: [r(0, false, false), r(1, false, true)], start: 2, stop: [0] },
    { name: 'scale down prefers unready, then the highest index', desired: 1, surge: 1, unavail: 0, replicas: [r(0, true, true), r(1, true, false), r(2, true, true)], start: 0, stop: [1, 2] },
    { name: 'scale to zero stops everything', desired: 0, surge: 1, unavail: 0, replicas: [r(0, true, true), r(1, false, true)], start: 0, stop: [0, 1] },
    { name: 'maxUnavailable lets an old one go before any new is ready', desired: 2, surge: 0, unavail: 1, replicas: [r(0, false, true), r(1, false, true)], start: 1, stop: [1] },
    { name: 'converged: nothing to do', desired: 2, surge: 1, unavail: 0, replicas: [r(0, true, true), r(1, true, true)], start: 0, stop: [] },
  ])('$name', ({ desired, surge, unavail, replicas, start, stop }) => {
    expect(planRollout({ desired, maxSurge: surge, maxUnavailable: unavail, replicas })).toEqual({ start, stop });
  });
});
