import {
  changeRequestNumber,
  commentBody,
  commentMarker,
  nested,
  upsertComment,
} from './change-request-comment.ts';
import { parseRepositoryAddress } from './commit-status.ts';
import { DeliveryError } from './delivery-error.ts';
import { baseHeaders, type Notifier, type NotifierConfig } from './notifier.ts';

const PREFIX = 'flux-pr-comment-key';

/**
 * `giteapullrequestcomment` (and Forgejo): a comment on the pull request named by the event's
 * `event.toolkit.fluxcd.io/change_request` metadata through `/api/v1`, edited in place on later events for
 * the same object (found by its hidden marker among the token user's comments), as Flux does.
 * `Authorization: token` from the secret's `token` (or `password`); events without a number are skipped.
 */
export function giteaPullRequestCommentNotifier(config: NotifierConfig): Notifier {
  const token = config.token ?? config.password;
  if (!token)
    throw new DeliveryError("giteapullrequestcomment provider needs a 'token' in its secret", false);
  const repo = parseRepositoryAddress(config.address);
  if (repo.path.split('/').length !== 2)
    throw new DeliveryError(`invalid repository id '${repo.path}': expected <owner>/<repository>`, false);
  const api = `${repo.protocol}//${repo.host}/api/v1`;
  const issues = `${api}/repos/${repo.path}/issues`;
  const headers = { ...baseHeaders(config), authorization: `token ${token}` };
  return {
    async post(event, signal) {
      const number = changeRequestNumber(event);
      if (number === undefined) return;
      await upsertComment(
        {
          userUrl: `${api}/user`,
          userName: (u) => u.login,
          listUrl: (n) => `${issues}/${n}/comments?page=1&limit=100`,
          author: (c) => nested(c, 'user', 'login'),
          createUrl: (n) => `${issues}/${n}/comments`,
          edit: (_n, id) => ({ method: 'PATCH', url: `${issues}/comments/${String(id)}` }),
        },
        number,
        commentMarker(PREFIX, event, config),
        commentBody(PREFIX, event, config),
        config,
        headers,
        signal,
      );
    },
  };
}
