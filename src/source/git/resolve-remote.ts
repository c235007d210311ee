import type { GitCredentials } from './git-credentials.ts';
import { secretValues } from './git-credentials.ts';
import { gitEnvironment } from './git-environment.ts';
import { GitError } from './git-error.ts';
import {
  effectiveReference,
  formatRevision,
  type EffectiveReference,
  type GitReference,
  type ResolvedRevision,
} from './git-reference.ts';
import { gitTransport, scrubUrl, splitUrlCredentials } from './git-url.ts';
import { listRemoteRefs } from './remote-refs.ts';
import type { RunGitOptions } from './run-git.ts';
import { highestSemverTag } from './semver-ref.ts';

/** Options shared by remote git operations. */
export interface RemoteOptions {
  timeoutMs: number;
  /** `http.proxy` for HTTP(S) remotes. */
  proxyUrl?: string;
  signal?: AbortSignal;
  /** Where the throwaway git home is made (the engine's `<data-dir>/tmp`). Default: the OS temp dir. */
  tmpRoot?: string;
}

/**
 * Asks the remote what `ref` points at now, with `git ls-remote` only (no objects are fetched): cheap
 * enough to run at every interval and skip the fetch when nothing moved. A commit pinned alone is
 * returned as is. Throws GitError: 'not-found' for a missing branch/tag/name or no tag in a semver
 * range, 'invalid-ref', 'invalid-url', 'auth', 'unreachable', 'timeout'.
 */
export async function resolveRemote(
  remoteUrl: string,
  ref: GitReference,
  remoteCreds: GitCredentials,
  opts: RemoteOptions,
): Promise<ResolvedRevision> {
  gitTransport(remoteUrl); // rejects unsupported urls before anything else
  const { url, creds } = splitUrlCredentials(remoteUrl, remoteCreds);
  const effective = effectiveReference(ref);
  if (effective.kind === 'commit' && !effective.branch) {
    return {
      revision: formatRevision(undefined, effective.commit),
      commit: effective.commit,
      ref: effective.commit,
    };
  }
  const environment = await gitEnvironment(url, creds, proxyConfig(opts.proxyUrl), opts.tmpRoot);
  try {
    const run: RunGitOptions = {
      env: environment.env,
      deadline: Date.now() + opts.timeoutMs,
      signal: opts.signal,
      secrets: secretValues(creds),
      what: `list references of '${scrubUrl(url)}'`,
    };
    const refs = await listRemoteRefs(url, lsRemotePatterns(effective), run);
    return resolveFromRefs(effective, refs, url);
  } finally {
    await environment.dispose();
  }
}

/** Env-only git config for an HTTP proxy. */
export function proxyConfig(proxyUrl: string | undefined): Record<string, string> {
  return proxyUrl ? { 'http.proxy': proxyUrl } : {};
}

function lsRemotePatterns(ref: EffectiveReference): string[] {
  switch (ref.kind) {
    case 'branch':
      return [`refs/heads/${ref.branch}`];
    case 'commit':
      return [`refs/heads/${ref.branch ?? ''}`];
    case 'tag':
      return [`refs/tags/${ref.tag}`, `refs/tags/${ref.tag}^{}`];
    case 'semver':
      return ['refs/tags/*'];
    case 'name':
      return [ref.name, `${ref.name}^{}`];
  }
}

/**
 * Resolves an effective reference against a remote's refs (commits, annotated tags peeled).
 * Throws GitError 'not-found' naming the missing ref and the scrubbed URL.
 */
export function resolveFromRefs(
  ref: EffectiveReference,
  refs: ReadonlyMap<string, string>,
  url: string,
): ResolvedRevision {
  const where = `'${scrubUrl(url)}'`;
  const lookup = (full: string, label: string, what: string): ResolvedRevision => {
    const commit = refs.get(full);
    if (!commit) throw new GitError('not-found', `${what} not found in ${where}`);
    return { revision: formatRevision(label, commit), commit, ref: full };
  };
  switch (ref.kind) {
    case 'branch':
      return lookup(`refs/heads/${ref.branch}`, ref.branch, `branch '${ref.branch}'`);
    case 'tag':
      return lookup(`refs/tags/${ref.tag}`, ref.tag, `tag '${ref.tag}'`);
    case 'name':
      return lookup(ref.name, ref.name, `reference '${ref.name}'`);
    case 'commit': {
      const branch = ref.branch ?? '';
      lookup(`refs/heads/${branch}`, branch, `branch '${branch}'`);
      return {
        revision: formatRevision(branch, ref.commit),
        commit: ref.commit,
        ref: `refs/heads/${branch}`,
      };
    }
    case 'semver': {
      const tags = [...refs.keys()]
        .filter((name) => name.startsWith('refs/tags/'))
        .map((name) => name.slice('refs/tags/'.length));
      const tag = highestSemverTag(ref.range, tags);
      if (!tag) throw new GitError('not-found', `no tag in ${where} satisfies semver range '${ref.range}'`);
      return lookup(`refs/tags/${tag}`, tag, `tag '${tag}'`);
    }
  }
}
