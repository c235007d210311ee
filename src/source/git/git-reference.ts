import { GitError } from './git-error.ts';

/** The `spec.ref` of a Flux GitRepository. */
export interface GitReference {
  branch?: string;
  tag?: string;
  semver?: string;
  name?: string;
  commit?: string;
}

/** What a reference points at. */
export interface ResolvedRevision {
  /** Flux v1 revision: `main@sha1:<hex>`, `v1.2.0@sha1:<hex>`, `refs/pull/1/head@sha1:<hex>` or `sha1:<hex>`. */
  revision: string;
  /** Full hex id of the commit that is (or would be) checked out. */
  commit: string;
  /** The full remote ref that was resolved (`refs/heads/main`, `refs/tags/v1.2.0`, …), or the commit id when pinned alone. */
  ref: string;
}

/** One reference after Flux's precedence (commit > name > semver > tag > branch) has been applied. */
export type EffectiveReference =
  | { kind: 'commit'; commit: string; branch?: string }
  | { kind: 'name'; name: string }
  | { kind: 'semver'; range: string }
  | { kind: 'tag'; tag: string }
  | { kind: 'branch'; branch: string };

/** Flux's default branch when a GitRepository has no `spec.ref`. */
export const DEFAULT_BRANCH = 'master';

const COMMIT_ID = /^[0-9a-f]{40}$/;
/** What git's check-ref-format refuses (and what would break a refspec such as `:`). */
const BAD_REF_NAME = /[\x00-\x20\x7f~^:?*[\\]|\.\.|@\{|\/\/|^[-/.]|[/.]$|\.lock$|\/\./;

function checkRefName(kind: string, value: string): string {
  if (value === '' || value === '@' || BAD_REF_NAME.test(value)) {
    throw new GitError('invalid-ref', `${kind} '${value}' is not a valid git reference name`);
  }
  return value;
}

/**
 * Applies Flux's precedence to `ref`. Guarantees a well-formed result: a commit is 40 lowercase hex digits,
 * a name starts with `refs/`; anything else throws GitError 'invalid-ref'.
 */
export function effectiveReference(ref: GitReference | undefined): EffectiveReference {
  if (ref?.commit) {
    const commit = ref.commit.toLowerCase();
    if (!COMMIT_ID.test(commit)) {
      throw new GitError('invalid-ref', `commit '${ref.commit}' is not a full 40-character sha1 id`);
    }
    return ref.branch
      ? { kind: 'commit', commit, branch: checkRefName('branch', ref.branch) }
      : { kind: 'commit', commit };
  }
  if (ref?.name) {
    if (!ref.name.startsWith('refs/')) {
      throw new GitError('invalid-ref', `reference name '${ref.name}' must start with 'refs/'`);
    }
    return { kind: 'name', name: checkRefName('reference name', ref.name) };
  }
  if (ref?.semver) return { kind: 'semver', range: ref.semver };
  if (ref?.tag) return { kind: 'tag', tag: checkRefName('tag', ref.tag) };
  return { kind: 'branch', branch: checkRefName('branch', ref?.branch || DEFAULT_BRANCH) };
}

/** Builds a Flux v1 revision string: `<label>@sha1:<commit>`, or `sha1:<commit>` without a label. */
export function formatRevision(label: string | undefined, commit: string): string {
  return label ? `${label}@sha1:${commit}` : `sha1:${commit}`;
}
