import { describe, expect, it } from 'vitest';
import { goDuration, upsertFluxHistory } from './flux-history.ts';

const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s));

describe('upsertFluxHistory', () => {
  it('counts up the newest snapshot for the same digest, puts another first, keeps five', () => {
    let history = upsertFluxHistory(undefined, {
      digest: 'sha256:a',
      time: at(0),
      durationMs: 1500,
      status: 'ReconciliationSucceeded',
      metadata: { revision: 'r1' },
    });
    history = upsertFluxHistory(history, {
      digest: 'sha256:a',
      time: at(5),
      durationMs: 20,
      status: 'ReconciliationSucceeded',
    });
    expect(history).toEqual([
      {
        digest: 'sha256:a',
        firstReconciled: '2026-01-01T00:00:00Z',
        lastReconciled: '2026-01-01T00:00:05Z',
        lastReconciledDuration: '20ms',
        lastReconciledStatus: 'ReconciliationSucceeded',
        totalReconciliations: 2,
        metadata: { revision: 'r1' },
      },
    ]);
    for (const d of ['b', 'c', 'd', 'e', 'f'])
      history = upsertFluxHistory(history, {
        digest: `sha256:${d}`,
        time: at(10),
        durationMs: 1,
        status: 'BuildFailed',
      });
    expect(history.map((s) => s.digest)).toEqual([
      'sha256:f',
      'sha256:e',
      'sha256:d',
      'sha256:c',
      'sha256:b',
    ]);
  });
});

describe('goDuration', () => {
  it.each([
    [0, '0ms'],
    [350, '350ms'],
    [1250, '1.25s'],
    [123_500, '2m3.5s'],
  ])('%d ms → %s', (ms, text) => {
    expect(goDuration(ms)).toBe(text);
  });
});
