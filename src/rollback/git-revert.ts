import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { secretValues as decodedSecret } from '../api/core.ts';
import type { ObjectRef } from '../api/meta.ts';
import { credentialsFromSecret, secretValues, type GitCredentials } from '../source/git/git-credentials.ts';
import { gitEnvironment } from '../source/git/git-environment.ts';
import { GitError } from '../source/git/git-error.ts';
import { runGit } from '../source/git/run-git.ts';
import type { Store } from '../store/store.ts';
import { chooseRollbackTarget, RollbackError, type RollbackChoice } from './rollback-target.ts';

/** What `--git` pushed. */
export interface GitRevert {
  /** The new commit's id. */
  commit: string;
  branch: string;
  /** The commit whose tree the new commit restores. */
  target: string;
  /** How many commits between the target and the old head it reverts. */
  reverted: number;
}

const COMMITTER = { name: 'Kedge', email: 'kedge@localhost' };
const TIMEOUT_MS = 120_000;

/**
 * The GitOps-pure rollback: one commit on the source branch whose tree is the tree of the chosen earlier revision
 * (it reverts every commit since, merges included), pushed with the GitRepository's credentials. Nothing is held:
 * the source fetches the commit and the Kustomization applies it as any other. Fails, naming the cause, when the
 * source is not a GitRepository on a branch, the revision is no ancestor of the head, or the push is refused.
 */
export async function revertInGit(
  store: Store,
  ref: ObjectRef,
  choice: RollbackChoice,
  tmpRoot = tmpdir(),
): Promise<GitRevert> {
  const what = `${ref.kind} '${ref.namespace}/${ref.name}'`;
  const object = await store.get(ref);
  if (!object) throw new RollbackError(`${what} not found`);
  if (ref.kind !== 'Kustomization')
    throw new RollbackError('--git works for Kustomizations (their source is a Git branch)');
  const spec = object.spec as { sourceRef: { kind: string; name: string; namespace?: string } };
  const sourceRef = {
    kind: spec.sourceRef.kind,
    namespace: spec.sourceRef.namespace ?? ref.namespace,
    name: spec.sourceRef.name,
  };
  if (sourceRef.kind !== 'GitRepository')
    throw new RollbackError(`--git needs a GitRepository source; ${what} uses a ${sourceRef.kind}`);
  const source = await store.get(sourceRef);
  if (!source) throw new RollbackError(`GitRepository '${sourceRef.namespace}/${sourceRef.name}' not found`);
  const gitSpec = source.spec as { url: string; ref?: { branch?: string }; secretRef?: { name: string } };
  const branch = gitSpec.ref?.branch;
  if (!branch)
    throw new RollbackError(
      `--git needs the GitRepository to follow a branch (spec.ref.branch); '${sourceRef.name}' does not`,
    );
  const current = (object.status as { lastAppliedRevision?: string } | undefined)?.lastAppliedRevision;
  const entry = chooseRollbackTarget(await store.listHistory(ref), current, choice, what);
  const target = /sha1:([0-9a-f]{40})$/.exec(entry.revision)?.[1];
  if (!target) throw new RollbackError(`revision '${entry.revision}' names no Git commit`);
  const creds = await credentialsOf(store, sourceRef.namespace, gitSpec.secretRef?.name);
  const environment = await gitEnvironment(gitSpec.url, creds, {}, tmpRoot);
  const dir = await mkdtemp(join(tmpRoot, 'kedge-revert-'));
  const secrets = secretValues(creds);
  const deadline = Date.now() + TIMEOUT_MS;
  const git = (args: string[], doing: string) =>
    runGit(args, { env: environment.env, cwd: dir, deadline, secrets, what: doing });
  try {
    await git(['init', '-q', '-b', branch], 'init');
    await git(['remote', 'add', 'origin', gitSpec.url], 'add remote');
    await git(['fetch', '-q', 'origin', `refs/heads/${branch}`], `fetch '${branch}'`);
    await git(['checkout', '-q', '-B', branch, 'FETCH_HEAD'], `check out '${branch}'`);
    const isAncestor = await git(['merge-base', '--is-ancestor', target, 'HEAD'], 'merge-base').then(
      () => true,
      () => false,
    );
    if (!isAncestor)
      throw new RollbackError(
        `commit ${target} is not an ancestor of the head of '${branch}': nothing to revert to`,
      );
    const between = (await git(['rev-list', `${target}..HEAD`], 'rev-list')).stdout
      .split('\n')
      .filter(Boolean);
    if (between.length === 0) throw new RollbackError(`'${branch}' is already at ${target}`);
    // The tree of the target, exactly: files added since go, changed ones return, whatever the commits were.
    await git(['read-tree', '-u', '--reset', target], 'restore the tree');
    const message = `Revert '${branch}' to ${target.slice(0, 12)}\n\nReverts ${between.length} commit${between.length === 1 ? '' : 's'} (kedge rollback ${ref.kind.toLowerCase()} ${ref.name} --git):\n${between.map((c) => `- ${c}`).join('\n')}\n`;
    const identity = ['-c', `user.name=${COMMITTER.name}`, '-c', `user.email=${COMMITTER.email}`];
    await git([...identity, 'commit', '-q', '--allow-empty', '-m', message], 'commit');
    const commit = (await git(['rev-parse', 'HEAD'], 'rev-parse')).stdout.trim();
    await git(['push', '-q', 'origin', `HEAD:refs/heads/${branch}`], `push to '${branch}'`).catch(
      (error: unknown) => {
        const detail = error instanceof Error ? error.message : String(error);
        const hint = gitSpec.secretRef
          ? `the credentials in Secret '${sourceRef.namespace}/${gitSpec.secretRef.name}' need push access`
          : `the GitRepository has no secretRef: push access needs credentials in one`;
        throw new RollbackError(`push of the revert commit was refused (${detail}); ${hint}`);
      },
    );
    return { commit, branch, target, reverted: between.length };
  } catch (error) {
    if (error instanceof GitError) throw new RollbackError(`--git failed: ${error.message}`);
    throw error;
  } finally {
    await rm(dir, { recursive: true, force: true });
    await environment.dispose();
  }
}

async function credentialsOf(
  store: Store,
  namespace: string,
  secretName: string | undefined,
): Promise<GitCredentials> {
  if (!secretName) return {};
  const secret = await store.get({ kind: 'Secret', namespace, name: secretName });
  if (!secret) throw new RollbackError(`Secret '${namespace}/${secretName}' of the GitRepository not found`);
  return credentialsFromSecret(decodedSecret(secret));
}
