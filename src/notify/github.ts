import { commitStatusContext, commitStatusDescription, isProgressing, parseRepositoryAddress, requireCommit } from './commit-status.ts';
import { postHttp } from './http-post.ts';
import { baseHeaders, type Notifier, type NotifierConfig } from './notifier.ts';

/** GitHub's REST base for a repository host: api.github.com, or `<host>/api/v3` for GitHub Enterprise (and test servers). */
export function githubApiBase(protocol: string, host: string): string {
  return host === 'github.com' ? 'https://api.github.com' : `${protocol}//${host}/api/v3`;
}

/**
 * `github`: sets a commit status on the commit of the event's revision (`success` for info, `failure` for
 * errors). The latest 50 statuses are read first and nothing is posted when the newest one of this context
 * already has this state and description, as Flux does. `Progressing` events and events without a revision
 * are skipped.
 */
export function githubNotifier(config: NotifierConfig): Notifier {
  const repo = parseRepositoryAddress(config.address);
  const commits = `${githubApiBase(repo.protocol, repo.host)}/repos/${repo.path}`;
  return {
    async post(event, signal) {
      const commit = requireCommit(event, config, 'github');
      if (!commit || isProgressing(event)) return;
      const status = { state: event.severity === 'error' ? 'failure' : 'success', context: commitStatusContext(event, config), description: commitStatusDescription(event) };
      const headers = { ...baseHeaders(config), accept: 'application/vnd.github+json', authorization: `Bearer ${commit.token}` };
      const listed = await postHttp(`${commits}/commits/${commit.sha}/statuses?per_page=50`, '', { ...config.http, method: 'GET', headers, signal });
      const latest = jsonArray(listed.body).find((s) => s.context === status.context && s.state !== undefined && s.description !== undefined);
      if (latest?.state === status.state && latest.description === status.description) return;
      await postHttp(`${commits}/statuses/${commit.sha}`, JSON.stringify(status), { ...config.http, headers, signal });
    },
  };
}

/** A JSON array of objects from an API answer; anything else is an empty list. */
export function jsonArray(text: string): Array<Record<string, unknown>> {
  try {
    const value: unknown = JSON.parse(text);
    return Array.isArray(value) ? value.filter((v): v is Record<string, unknown> => typeof v === 'object' && v !== null) : [];
  } catch {
    return [];
  }
}
