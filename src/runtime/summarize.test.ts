import { describe, expect, it } from 'vitest';
import type { Condition } from '../api/meta.ts';
import { ConditionSet } from './conditions.ts';
import { ReconcileError, StallingError, WaitingError } from './errors.ts';
import { summarizeConditions } from './summarize.ts';

const summary = { negative: ['FetchFailed'], positive: ['ArtifactInStorage'] };
const cond = (type: string, status: Condition['status'], reason: string, message: string) => ({ type, status, reason, message });

function pick(set: ConditionSet) {
  return set.toArray().map(({ type, status, reason, message }) => ({ type, status, reason, message }));
}

describe('summarizeConditions', () => {
  it.each([
    {
      name: 'success with artifact',
      owned: [cond('ArtifactInStorage', 'True', 'Succeeded', "stored artifact for revision 'main@sha1:1'")],
      outcome: undefined,
      expected: [
        cond('Ready', 'True', 'Succeeded', "stored artifact for revision 'main@sha1:1'"),
        cond('ArtifactInStorage', 'True', 'Succeeded', "stored artifact for revision 'main@sha1:1'"),
      ],
    },
    {
      name: 'generic failure keeps the old artifact and retries',
      owned: [
        cond('FetchFailed', 'True', 'GitOperationFailed', 'failed to checkout'),
        cond('ArtifactInStorage', 'True', 'Succeeded', 'stored'),
      ],
      outcome: new ReconcileError('GitOperationFailed', 'failed to checkout'),
      expected: [
        cond('Ready', 'False', 'GitOperationFailed', 'failed to checkout'),
        cond('Reconciling', 'True', 'ProgressingWithRetry', 'retrying: failed to checkout'),
        cond('FetchFailed', 'True', 'GitOperationFailed', 'failed to checkout'),
        cond('ArtifactInStorage', 'True', 'Succeeded', 'stored'),
      ],
    },
    {
      name: 'stalling failure',
      owned: [],
      outcome: new StallingError('URLInvalid', 'bad url'),
      expected: [cond('Ready', 'False', 'URLInvalid', 'bad url'), cond('Stalled', 'True', 'URLInvalid', 'bad url')],
    },
    {
      name: 'waiting',
      owned: [],
      outcome: new WaitingError('DependencyNotReady', 'waiting for b', 1000),
      expected: [
        cond('Ready', 'False', 'DependencyNotReady', 'waiting for b'),
        cond('Reconciling', 'True', 'Progressing', 'retrying: waiting for b'),
      ],
    },
  ])('$name', ({ owned, outcome, expected }) => {
    const set = new ConditionSet([], 3);
    for (const c of owned) set.set(c);
    summarizeConditions(set, summary, outcome);
    expect(pick(set)).toEqual(expected);
    expect(set.get('Ready')?.observedGeneration).toBe(3);
  });

  it('keeps lastTransitionTime when the status does not change', () => {
    const before = { ...cond('Ready', 'True', 'Succeeded', 'a'), lastTransitionTime: '2020-01-01T00:00:00.000Z' } as Condition;
    const set = new ConditionSet([before], 1);
    set.mark('Ready', 'True', 'Succeeded', 'b');
    expect(set.get('Ready')?.lastTransitionTime).toBe('2020-01-01T00:00:00.000Z');
    set.mark('Ready', 'False', 'Failed', 'c');
    expect(set.get('Ready')?.lastTransitionTime).not.toBe('2020-01-01T00:00:00.000Z');
  });
});
