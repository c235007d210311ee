import { describe, expect, it } from 'vitest';
import { GitError } from './git-error.ts';
import { highestSemverTag } from './semver-ref.ts';

describe('highestSemverTag', () => {
  const tags = ['v1.0.0', '1.1.0', 'v1.2.0-rc.1', 'v2.0.0', 'latest', 'v1.10.3'];
  it.each([
    ['>=1.0.0 <2.0.0', 'v1.10.3'],
    ['1.1.x', '1.1.0'],
    ['*', 'v2.0.0'],
    ['>=3.0.0', undefined],
    ['>=1.2.0-rc.0 <1.3.0', 'v1.2.0-rc.1'],
  ])('range %s picks %s', (range, expected) => {
    expect(highestSemverTag(range, tags)).toBe(expected);
  });

  it('rejects an invalid range with invalid-ref', () => {
    expect(() => highestSemverTag('not a range!!', tags)).toThrow(GitError);
    try {
      highestSemverTag('not a range!!', tags);
    } catch (error) {
      expect((error as GitError).code).toBe('invalid-ref');
    }
  });
});
