import { describe, expect, it } from 'vitest';
import type { CanaryStatus, CanaryStep } from '../../api/app-canary.ts';
import { advance, weightAt } from './canary-steps.ts';
import { LatencyHistogram } from './latency-histogram.ts';
import { chooseSide } from './traffic-split.ts';

const steps: CanaryStep[] = [
  { setWeight: 10 },
  { pause: { duration: '1m' } },
  { setWeight: 50 },
  { pause: {} },
];
const at = (currentStep: number, startedAgoMs: number, now: number): CanaryStatus => ({
  phase: 'Progressing',
  templateHash: 'h',
  canaryRevision: 'r',
  currentStep,
  weight: weightAt(steps, currentStep),
  stepStartedAt: new Date(now - startedAgoMs).toISOString(),
  failedChecks: 0,
});

describe('canary steps after a passing analysis', () => {
  const now = Date.parse('2026-12-02T10:00:00Z');
  it.each([
    [
      'a setWeight step advances (weight kept through the pause)',
      at(0, 1_000, now),
      { currentStep: 1, weight: 10, phase: 'Progressing' },
    ],
    [
      'a timed pause not yet over holds',
      at(1, 30_000, now),
      { currentStep: 1, weight: 10, phase: 'Progressing' },
    ],
    [
      'a timed pause over advances to the next weight',
      at(1, 61_000, now),
      { currentStep: 2, weight: 50, phase: 'Progressing' },
    ],
    [
      'an indefinite pause holds whatever the time',
      at(3, 3_600_000, now),
      { currentStep: 3, weight: 50, phase: 'Progressing' },
    ],
    ['past the last step: Promoting', { ...at(2, 1_000, now), currentStep: 4 }, { phase: 'Promoting' }],
  ])('%s', (_name, status, expected) => {
    expect(advance(status, steps, now)).toMatchObject(expected);
  });

  it('promotes after the last step', () => {
    expect(advance(at(0, 0, now), [{ setWeight: 20 }], now)).toMatchObject({
      phase: 'Promoting',
      currentStep: 1,
    });
  });
});

describe('side per request', () => {
  const split = { canaryPorts: [1], weight: 30 };
  it.each([
    [
      'pinning header wins over weight 0',
      { ...split, weight: 0, header: { name: 'X-Canary', value: 'always' } },
      { 'x-canary': 'always' },
      0.99,
      'canary',
    ],
    [
      'other header value: weighted draw',
      { ...split, header: { name: 'x-canary', value: 'always' } },
      { 'x-canary': 'no' },
      0.99,
      'stable',
    ],
    ['draw under the weight goes to the canary', split, {}, 0.29, 'canary'],
    ['draw at or over the weight stays stable', split, {}, 0.3, 'stable'],
    [
      'cookie pins to stable whatever the draw',
      { ...split, cookie: { name: 'side' } },
      { cookie: 'a=1; side=stable' },
      0,
      'stable',
    ],
  ])('%s', (_name, s, headers, random, side) => {
    expect(chooseSide(s, headers, () => random).side).toBe(side);
  });

  it('sets the cookie on the first answer of an unpinned client', () => {
    expect(chooseSide({ ...split, cookie: { name: 'side' } }, {}, () => 0.1)).toEqual({
      side: 'canary',
      setCookie: 'side=canary; Path=/; HttpOnly; SameSite=Lax',
    });
  });
});

describe('latency histogram', () => {
  it('reports the p99 within 20 %', () => {
    const h = new LatencyHistogram();
    for (let i = 0; i < 990; i++) h.record(5);
    for (let i = 0; i < 10; i++) h.record(800);
    const p99 = LatencyHistogram.quantileMs(h.counts, 0.99);
    expect(p99).toBeGreaterThanOrEqual(5);
    expect(p99).toBeLessThanOrEqual(6);
    const p999 = LatencyHistogram.quantileMs(h.counts, 0.999);
    expect(p999).toBeGreaterThanOrEqual(800);
    expect(p999).toBeLessThanOrEqual(960);
    expect(LatencyHistogram.quantileMs(new LatencyHistogram().counts, 0.99)).toBe(0);
  });
});
