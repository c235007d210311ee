import { describe, expect, it } from 'vitest';
import { GitError } from './git-error.ts';
import { effectiveReference, type GitReference } from './git-reference.ts';

const SHA = '0123456789abcdef0123456789abcdef01234567';

describe('effectiveReference', () => {
  it.each<[string, GitReference | undefined, ReturnType<typeof effectiveReference>]>([
    ['no ref: Flux default branch', undefined, { kind: 'branch', branch: 'master' }],
    ['empty ref', {}, { kind: 'branch', branch: 'master' }],
    [
      'commit beats everything',
      { commit: SHA.toUpperCase(), name: 'refs/x', semver: '*', tag: 't', branch: 'b' },
      { kind: 'commit', commit: SHA, branch: 'b' },
    ],
    [
      'name beats semver',
      { name: 'refs/pull/1/head', semver: '*' },
      { kind: 'name', name: 'refs/pull/1/head' },
    ],
    ['semver beats tag', { semver: '>=1', tag: 'v1' }, { kind: 'semver', range: '>=1' }],
    ['tag beats branch', { tag: 'v1', branch: 'main' }, { kind: 'tag', tag: 'v1' }],
    ['branch with slashes', { branch: 'release/1.x' }, { kind: 'branch', branch: 'release/1.x' }],
  ])('%s', (_title, ref, expected) => {
    expect(effectiveReference(ref)).toEqual(expected);
  });

  it.each<GitReference>([
    { branch: 'a:b' },
    { branch: '-x' },
    { branch: 'a..b' },
    { branch: 'a b' },
    { tag: 'v1^{}' },
    { tag: 'x.lock' },
    { name: 'refs/heads/a:refs/heads/b' },
    { commit: SHA, branch: 'a*' },
  ])('rejects %j with invalid-ref', (ref) => {
    let error: unknown;
    try {
      effectiveReference(ref);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(GitError);
    expect(error).toMatchObject({ code: 'invalid-ref' });
  });
});
