import { runGit, type RunGitOptions } from './run-git.ts';

/**
 * Lists the remote refs matching `patterns` (all refs without patterns) with `git ls-remote`. Returns
 * each ref's commit: annotated tags are peeled, so every value is a commit id.
 */
export async function listRemoteRefs(
  url: string,
  patterns: readonly string[],
  opts: RunGitOptions,
): Promise<Map<string, string>> {
  const { stdout } = await runGit(['ls-remote', '--', url, ...patterns], opts);
  const direct = new Map<string, string>();
  const peeled = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const [oid, name] = line.split('\t');
    if (!oid || !name) continue;
    if (name.endsWith('^{}')) peeled.set(name.slice(0, -3), oid);
    else direct.set(name, oid);
  }
  for (const [name, oid] of peeled) direct.set(name, oid);
  return direct;
}
