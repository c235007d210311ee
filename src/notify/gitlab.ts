import { commitStatusContext, commitStatusDescription, isProgressing, parseRepositoryAddress, requireCommit } from './commit-status.ts';
import { jsonArray } from './github.ts';
import { postHttp } from './http-post.ts';
import { baseHeaders, type Notifier, type NotifierConfig } from './notifier.ts';

/**
 * `gitlab`: sets a commit status (`success` / `failed`) on the commit of the event's revision through
 * `/api/v4/projects/<url-encoded path>/statuses/<sha>` on the address's host. The commit's statuses of this
 * name are read first and an identical one (status and description) is not posted again, as Flux does.
 * `Progressing` events and events without a revision are skipped.
 */
export function gitlabNotifier(config: NotifierConfig): Notifier {
  const repo = parseRepositoryAddress(config.address);
  const project = `${repo.protocol}//${repo.host}/api/v4/projects/${encodeURIComponent(repo.path)}`;
  return {
    async post(event, signal) {
      // Flux takes the secret's `password` as the token when `token` is absent.
      const commit = requireCommit(event, { ...config, token: config.token ?? config.password }, 'gitlab');
      if (!commit || isProgressing(event)) return;
      const status = { state: event.severity === 'error' ? 'failed' : 'success', name: commitStatusContext(event, config), description: commitStatusDescription(event) };
      const headers = { ...baseHeaders(config), 'private-token': commit.token };
      const listUrl = `${project}/repository/commits/${commit.sha}/statuses?name=${encodeURIComponent(status.name)}`;
      const listed = await postHttp(listUrl, '', { ...config.http, method: 'GET', headers, signal });
      const same = jsonArray(listed.body).some((s) => s.name === status.name && s.status === status.state && s.description === status.description);
      if (same) return;
      await postHttp(`${project}/statuses/${commit.sha}`, JSON.stringify(status), { ...config.http, headers, signal });
    },
  };
}
