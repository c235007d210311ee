import { DeliveryError } from './delivery-error.ts';
import {
  commitStatusContext,
  commitStatusDescription,
  eventCommit,
  parseRepositoryAddress,
} from './commit-status.ts';
import type { FluxEvent } from './flux-event.ts';
import { jsonArray } from './github.ts';
import { postHttp } from './http-post.ts';
import { baseHeaders, type Notifier, type NotifierConfig } from './notifier.ts';

/** Flux's Gitea state: `pending` while Progressing, `success` for info, `failure` for errors. */
export function giteaState(event: FluxEvent): 'pending' | 'success' | 'failure' {
  if (event.reason === 'Progressing') return 'pending';
  return event.severity === 'error' ? 'failure' : 'success';
}

interface GiteaStatus {
  context?: string;
  state?: string;
  description?: string;
}

/**
 * `gitea` (and Forgejo): a commit status on the event's commit through `<host>/api/v1`, with the secret's
 * `token` (or `password`) as `Authorization: token`. The first 50 statuses are read first and an identical
 * one (same context, state and description) is not posted again, as Flux does. Events without a revision
 * are skipped.
 */
export function giteaNotifier(config: NotifierConfig): Notifier {
  const token = config.token ?? config.password;
  if (!token) throw new DeliveryError("gitea provider needs a 'token' in its secret", false);
  const repo = parseRepositoryAddress(config.address);
  if (repo.path.split('/').length !== 2)
    throw new DeliveryError(`invalid repository id '${repo.path}': expected <owner>/<repository>`, false);
  const api = `${repo.protocol}//${repo.host}/api/v1/repos/${repo.path}`;
  const headers = { ...baseHeaders(config), authorization: `token ${token}` };
  return {
    async post(event, signal) {
      const sha = eventCommit(event);
      if (!sha) return;
      const status = {
        state: giteaState(event),
        target_url: '',
        description: commitStatusDescription(event),
        context: commitStatusContext(event, config),
      };
      const listed = await postHttp(`${api}/commits/${sha}/statuses?limit=50&page=1`, '', {
        ...config.http,
        method: 'GET',
        headers,
        signal,
      });
      const existing = (jsonArray(listed.body) as GiteaStatus[]).find(
        (s) => s.context && s.state && s.description && s.context === status.context,
      );
      if (existing?.state === status.state && existing.description === status.description) return;
      await postHttp(`${api}/statuses/${sha}`, JSON.stringify(status), { ...config.http, headers, signal });
    },
  };
}
