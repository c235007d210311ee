import { commitStatusContext, commitStatusDescription, parseRepositoryAddress, requireCommit } from './commit-status.ts';
import { postHttp } from './http-post.ts';
import { baseHeaders, type Notifier, type NotifierConfig } from './notifier.ts';

/** GitHub's REST base for a repository host: api.github.com, or `<host>/api/v3` for GitHub Enterprise (and test servers). */
export function githubApiBase(protocol: string, host: string): string {
  return host === 'github.com' ? 'https://api.github.com' : `${protocol}//${host}/api/v3`;
}

/**
 * `github`: sets a commit status on the commit of the event's revision (`success` for info, `failure` for
 * errors). Events without a revision are skipped, as in Flux.
 */
export function githubNotifier(config: NotifierConfig): Notifier {
  const repo = parseRepositoryAddress(config.address);
  const url = (sha: string) => `${githubApiBase(repo.protocol, repo.host)}/repos/${repo.path}/statuses/${sha}`;
  return {
    async post(event, signal) {
      const commit = requireCommit(event, config, 'github');
      if (!commit) return;
      const body = JSON.stringify({
        state: event.severity === 'error' ? 'failure' : 'success',
        context: commitStatusContext(event, config),
        description: commitStatusDescription(event),
      });
      const headers = { ...baseHeaders(config), accept: 'application/vnd.github+json', authorization: `Bearer ${commit.token}` };
      await postHttp(url(commit.sha), body, { ...config.http, headers, signal });
    },
  };
}
