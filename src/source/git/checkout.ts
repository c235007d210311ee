import { access, mkdir, readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
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
import { readHeadCommit } from './head-commit.ts';
import { gitTransport, scrubUrl, splitUrlCredentials, withoutSecretUserinfo } from './git-url.ts';
import { listRemoteRefs } from './remote-refs.ts';
import { proxyConfig, resolveFromRefs, type RemoteOptions } from './resolve-remote.ts';
import { runGit, type RunGitOptions } from './run-git.ts';

/** Options of {@link checkout}. */
export interface CheckoutOptions extends RemoteOptions {
  /** Also check out submodules, recursively and shallowly, with the same credentials (Flux's `recurseSubmodules`). */
  recurseSubmodules?: boolean;
}

/** What {@link checkout} checked out. */
export interface CheckoutResult extends ResolvedRevision {
  commitMessage: string;
}

/** How to fetch one effective reference. */
interface FetchPlan {
  refspec: string;
  /** What to check out once fetched. */
  target: string;
  /** Revision label (`main`, `v1.2.0`, `refs/pull/1/head`), none for a commit pinned alone. */
  label: string | undefined;
  /** Remote ref name, or the commit id when pinned alone. */
  ref: string;
  /** Fetch only the tip (false: the branch's history, to find a pinned commit in it). */
  shallow: boolean;
  /** Local ref whose history must contain `target` (a commit pinned with a branch). */
  containedIn?: string;
  /** What is fetched, for messages. */
  what: string;
  /** Set when `git clone --branch <name>` fetches exactly this: the branch or tag name. */
  cloneAs?: { kind: 'branch' | 'tag'; name: string };
}

/**
 * Fetches exactly the requested reference into `dir` (created if missing; must be empty) and checks it
 * out detached. Branches, tags and names are fetched shallowly; a commit pinned with a branch fetches that
 * branch and requires the commit to be in it. Annotated tags are kept as local refs (`refs/tags/<tag>`)
 * so that {@link verifyCheckout} can check their signature. Throws GitError with Flux-like reasons.
 */
export async function checkout(
  remoteUrl: string,
  ref: GitReference,
  remoteCreds: GitCredentials,
  dir: string,
  opts: CheckoutOptions,
): Promise<CheckoutResult> {
  const transport = gitTransport(remoteUrl);
  const { url, creds } = splitUrlCredentials(remoteUrl, remoteCreds);
  let effective = effectiveReference(ref);
  await prepareEmptyDir(dir);
  const config = proxyConfig(opts.proxyUrl);
  if (opts.recurseSubmodules && transport === 'file') config['protocol.file.allow'] = 'always';
  const environment = await gitEnvironment(url, creds, config, opts.tmpRoot);
  try {
    const base = {
      env: environment.env,
      deadline: Date.now() + opts.timeoutMs,
      signal: opts.signal,
      secrets: secretValues(creds),
    };
    const git = (args: string[], what: string): ReturnType<typeof runGit> =>
      runGit(args, { ...base, cwd: dir, what });
    if (effective.kind === 'semver') {
      const refs = await listRemoteRefs(url, ['refs/tags/*'], {
        ...base,
        what: `list tags of '${scrubUrl(url)}'`,
      });
      const tag = resolveFromRefs(effective, refs, url).ref.slice('refs/tags/'.length);
      effective = { kind: 'tag', tag };
    }
    const plan = fetchPlan(effective);
    // One `git clone` for a branch or tag (the common case); init + fetch + checkout for the rest.
    if (!(plan.cloneAs && (await cloneRef(url, plan, plan.cloneAs, base, dir)))) {
      await git(['init', '-q', '--template=', '.'], `init '${dir}'`);
      if (opts.recurseSubmodules)
        await git(['config', 'remote.origin.url', withoutSecretUserinfo(url)], `configure '${dir}'`);
      await fetchRef(url, plan, base, dir);
      if (plan.containedIn)
        await requireInBranch(plan, { ...base, cwd: dir, what: `find ${plan.target}` }, url);
      await git(
        ['-c', 'advice.detachedHead=false', 'checkout', '-q', '--detach', `${plan.target}^{commit}`],
        `check out ${plan.what}`,
      );
    }
    if (opts.recurseSubmodules) {
      await git(
        ['submodule', 'update', '--init', '--recursive', '--depth=1'],
        `update submodules of '${scrubUrl(url)}'`,
      );
    }
    const { commit, message: commitMessage } =
      (await readHeadCommit(dir)) ?? (await logHead((args, what) => git(args, what), dir));
    return { revision: formatRevision(plan.label, commit), commit, ref: plan.ref, commitMessage };
  } finally {
    await environment.dispose();
  }
}

async function prepareEmptyDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  if ((await readdir(dir)).length > 0)
    throw new GitError('failed', `checkout directory '${dir}' is not empty`);
}

function fetchPlan(ref: Exclude<EffectiveReference, { kind: 'semver' }>): FetchPlan {
  switch (ref.kind) {
    case 'branch':
      return branchPlan(ref.branch, true);
    case 'tag':
      return {
        refspec: `+refs/tags/${ref.tag}:refs/tags/${ref.tag}`,
        target: `refs/tags/${ref.tag}`,
        label: ref.tag,
        ref: `refs/tags/${ref.tag}`,
        shallow: true,
        what: `tag '${ref.tag}'`,
        cloneAs: { kind: 'tag', name: ref.tag },
      };
    case 'name': {
      const local = ref.name.startsWith('refs/heads/')
        ? `refs/remotes/origin/${ref.name.slice('refs/heads/'.length)}`
        : ref.name;
      return {
        refspec: `+${ref.name}:${local}`,
        target: local,
        label: ref.name,
        ref: ref.name,
        shallow: true,
        what: `reference '${ref.name}'`,
      };
    }
    case 'commit':
      if (ref.branch) {
        const plan = branchPlan(ref.branch, false);
        return { ...plan, target: ref.commit, containedIn: plan.target };
      }
      return {
        refspec: ref.commit,
        target: ref.commit,
        label: undefined,
        ref: ref.commit,
        shallow: true,
        what: `commit '${ref.commit}'`,
      };
  }
}

function branchPlan(branch: string, shallow: boolean): FetchPlan {
  const local = `refs/remotes/origin/${branch}`;
  return {
    refspec: `+refs/heads/${branch}:${local}`,
    target: local,
    label: branch,
    ref: `refs/heads/${branch}`,
    shallow,
    what: `branch '${branch}'`,
    ...(shallow ? { cloneAs: { kind: 'branch', name: branch } as const } : {}),
  };
}

/**
 * Clones exactly one branch or tag, shallowly, into the empty `dir`, checked out. Returns false (and
 * leaves `dir` empty) when what was cloned is not what the plan asked for: `--branch` also accepts a tag
 * for a missing branch and prefers a branch over a tag of the same name; the caller then fetches the
 * exact ref.
 */
async function cloneRef(
  url: string,
  plan: FetchPlan,
  cloneAs: NonNullable<FetchPlan['cloneAs']>,
  base: Omit<RunGitOptions, 'what'>,
  dir: string,
): Promise<boolean> {
  const args = ['-c', 'advice.detachedHead=false', 'clone', '-q', '--depth=1', '--single-branch'];
  args.push('--no-tags', '--template=', '--branch', cloneAs.name, '--', url, '.');
  try {
    await runGit(args, { ...base, cwd: dir, what: `fetch ${plan.what} from '${scrubUrl(url)}'` });
  } catch (error) {
    if (error instanceof GitError && /remote branch .* not found in upstream/i.test(error.message))
      throw new GitError('not-found', `${plan.what} not found in '${scrubUrl(url)}'`, { cause: error });
    throw error;
  }
  const head = (await readFile(join(dir, '.git', 'HEAD'), 'utf8')).trim();
  const exact =
    cloneAs.kind === 'branch'
      ? head === `ref: refs/heads/${cloneAs.name}`
      : /^[0-9a-f]{40}$/.test(head) && (await hasTagRef(dir, cloneAs.name));
  if (exact) return true;
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  return false;
}

async function hasTagRef(dir: string, tag: string): Promise<boolean> {
  const ref = `refs/tags/${tag}`;
  if (
    await access(join(dir, '.git', ref)).then(
      () => true,
      () => false,
    )
  )
    return true;
  const packed = await readFile(join(dir, '.git', 'packed-refs'), 'utf8').catch(() => '');
  return packed.split('\n').some((line) => line.endsWith(` ${ref}`));
}

/** HEAD's commit id and message from git itself, for what {@link readHeadCommit} cannot read. */
async function logHead(
  git: (args: string[], what: string) => ReturnType<typeof runGit>,
  dir: string,
): Promise<{ commit: string; message: string }> {
  // One process for both: the commit id on the first line, the message after it.
  const head = (await git(['log', '-1', '--format=%H%n%B', 'HEAD'], `read HEAD in '${dir}'`)).stdout;
  const newline = head.indexOf('\n');
  const commit = head.slice(0, newline < 0 ? undefined : newline).trim();
  return { commit, message: newline < 0 ? '' : head.slice(newline + 1).trim() };
}

async function fetchRef(
  url: string,
  plan: FetchPlan,
  base: Omit<RunGitOptions, 'what'>,
  dir: string,
): Promise<void> {
  const args = ['fetch', '-q', '--no-tags', ...(plan.shallow ? ['--depth=1'] : []), '--', url, plan.refspec];
  try {
    await runGit(args, { ...base, cwd: dir, what: `fetch ${plan.what} from '${scrubUrl(url)}'` });
  } catch (error) {
    if (
      error instanceof GitError &&
      error.code === 'not-found' &&
      /remote ref|not our ref/i.test(error.message)
    ) {
      throw new GitError('not-found', `${plan.what} not found in '${scrubUrl(url)}'`, { cause: error });
    }
    throw error;
  }
}

async function requireInBranch(plan: FetchPlan, opts: RunGitOptions, url: string): Promise<void> {
  const commit = plan.target;
  try {
    await runGit(['merge-base', '--is-ancestor', commit, plan.containedIn ?? 'HEAD'], opts);
  } catch (error) {
    if (error instanceof GitError && error.code === 'timeout') throw error;
    throw new GitError('not-found', `commit '${commit}' not found in ${plan.what} of '${scrubUrl(url)}'`, {
      cause: error,
    });
  }
}
