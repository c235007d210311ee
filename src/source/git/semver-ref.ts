import semver from 'semver';
import { GitError } from './git-error.ts';

/**
 * Picks the tag with the highest version satisfying `range` among `tags` (names without `refs/tags/`,
 * with or without a leading `v`). Tags that are not semantic versions are ignored. Returns undefined when
 * none satisfies; throws GitError 'invalid-ref' when `range` is not a valid semver range.
 */
export function highestSemverTag(range: string, tags: Iterable<string>): string | undefined {
  if (semver.validRange(range) === null) {
    throw new GitError('invalid-ref', `semver range '${range}' is invalid`);
  }
  let best: { tag: string; version: string } | undefined;
  for (const tag of [...tags].sort()) {
    const version = semver.valid(tag);
    if (version === null || !semver.satisfies(version, range)) continue;
    if (!best || semver.gt(version, best.version)) best = { tag, version };
  }
  return best?.tag;
}
