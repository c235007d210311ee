import { describe, expect, it } from 'vitest';
import type { HistoryEntry } from '../api/history.ts';
import { chooseRollbackTarget, matchesRevision } from './rollback-target.ts';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const C = 'c'.repeat(40);
const entry = (commit: string, result: HistoryEntry['result'] = 'Succeeded'): HistoryEntry => ({
  time: '2026-01-01T00:00:00.000Z',
  durationMs: 1,
  revision: `main@sha1:${commit}`,
  artifact: {
    path: `gitrepository/default/app/${commit}.tar.gz`,
    url: '',
    digest: 'sha256:0',
    revision: `main@sha1:${commit}`,
  },
  result,
  reason: result === 'Succeeded' ? 'ReconciliationSucceeded' : 'BuildFailed',
  message: '',
  changes: { created: [], configured: [], deleted: [] },
});
// Newest first: C applied now, B failed once, B earlier, A first.
const history = [entry(C), entry(B, 'Failed'), entry(C), entry(B), entry(A)];

describe('chooseRollbackTarget', () => {
  it.each([
    ['one step back skips the current revision and repeats', { steps: 1 }, B],
    ['two steps back', { steps: 2 }, A],
    ['by full revision', { to: `main@sha1:${A}` }, A],
    ['by commit prefix', { to: 'bbbbbbb' }, B],
    ['by sha1: prefix', { to: `sha1:${A}` }, A],
  ])('%s', (_name, choice, expected) => {
    expect(chooseRollbackTarget(history, `main@sha1:${C}`, choice, 'Kustomization app').revision).toBe(
      `main@sha1:${expected}`,
    );
  });

  it.each([
    ['too many steps', { steps: 3 }, /has 2 earlier revisions in its history, cannot go back 3/],
    ['a revision never recorded', { to: 'deadbee' }, /no successful history entry for revision 'deadbee'/],
    ['a prefix too short to be safe', { to: 'bbb' }, /no successful history entry/],
    ['zero steps', { steps: 0 }, /--steps must be a whole number of at least 1/],
  ])('refuses %s', (_name, choice, message) => {
    expect(() => chooseRollbackTarget(history, `main@sha1:${C}`, choice, 'Kustomization app')).toThrow(
      message,
    );
  });

  it('never chooses a failed entry', () => {
    expect(() => chooseRollbackTarget([entry(A, 'Failed')], undefined, { to: A }, 'x')).toThrow(
      /no successful revision is recorded yet/,
    );
  });
});

describe('matchesRevision', () => {
  it.each([
    ['main@sha1:abc1234def', 'main@sha1:abc1234def', true],
    ['main@sha1:abc1234def', 'sha1:abc1234def', true],
    ['main@sha1:abc1234def', 'abc1234', true],
    ['main@sha1:abc1234def', 'abc123', false],
    ['sha256:0123456789', '0123456', true],
    ['main@sha1:abc1234def', 'zzz1234', false],
  ])('%s ~ %s → %s', (revision, wanted, expected) => {
    expect(matchesRevision(revision, wanted)).toBe(expected);
  });
});
