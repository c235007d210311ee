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

const PREFIX = 'flux-mr-comment-key';

/**
 * `gitlabmergerequestcomment`: a note on the merge request (by IID) named by the event's
 * `event.toolkit.fluxcd.io/change_request` metadata through `/api/v4`, edited in place on later events for
 * the same object (found by its hidden marker among the token user's notes), as Flux does. `PRIVATE-TOKEN`
 * from the secret's `token` (or `password`); events without a merge request number are skipped.
 */
export function gitlabMergeRequestCommentNotifier(config: NotifierConfig): Notifier {
  const token = config.token ?? config.password;
  if (!token)
    throw new DeliveryError("gitlabmergerequestcomment provider needs a 'token' in its secret", false);
  const repo = parseRepositoryAddress(config.address);
  const api = `${repo.protocol}//${repo.host}/api/v4`;
  const requests = `${api}/projects/${encodeURIComponent(repo.path)}/merge_requests`;
  const headers = { ...baseHeaders(config), 'private-token': token };
  return {
    async post(event, signal) {
      const number = changeRequestNumber(event);
      if (number === undefined) return;
      await upsertComment(
        {
          userUrl: `${api}/user`,
          userName: (u) => u.username,
          listUrl: (n) => `${requests}/${n}/notes?order_by=created_at&per_page=100&sort=asc`,
          author: (c) => nested(c, 'author', 'username'),
          createUrl: (n) => `${requests}/${n}/notes`,
          edit: (n, id) => ({ method: 'PUT', url: `${requests}/${n}/notes/${String(id)}` }),
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
