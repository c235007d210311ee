import { commitStatusContext, commitStatusDescription, parseRepositoryAddress, requireCommit } from './commit-status.ts';
import { postHttp } from './http-post.ts';
import { baseHeaders, type Notifier, type NotifierConfig } from './notifier.ts';

/**
 * `gitlab`: sets a commit status (`success` / `failed`) on the commit of the event's revision through
 * `/api/v4/projects/<url-encoded path>/statuses/<sha>` on the address's host. Events without a revision are skipped.
 */
export function gitlabNotifier(config: NotifierConfig): Notifier {
  const repo = parseRepositoryAddress(config.address);
  const project = encodeURIComponent(repo.path);
  return {
    async post(event, signal) {
      // Flux takes the secret's `password` as the token when `token` is absent.
      const commit = requireCommit(event, { ...config, token: config.token ?? config.password }, 'gitlab');
      if (!commit) return;
      const body = JSON.stringify({
        state: event.severity === 'error' ? 'failed' : 'success',
        name: commitStatusContext(event, config),
        description: commitStatusDescription(event),
      });
      const headers = { ...baseHeaders(config), 'private-token': commit.token };
      const url = `${repo.protocol}//${repo.host}/api/v4/projects/${project}/statuses/${commit.sha}`;
      await postHttp(url, body, { ...config.http, headers, signal });
    },
  };
}
