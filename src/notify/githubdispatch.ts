import { DeliveryError } from './delivery-error.ts';
import { parseRepositoryAddress } from './commit-status.ts';
import type { FluxEvent } from './flux-event.ts';
import { githubApiBase } from './github.ts';
import { postHttp } from './http-post.ts';
import { baseHeaders, type Notifier, type NotifierConfig } from './notifier.ts';

/** The repository_dispatch body: event type `<Kind>/<name>.<namespace>`, the whole Flux event as client payload. */
export function githubDispatchPayload(event: FluxEvent): { event_type: string; client_payload: FluxEvent } {
  const o = event.involvedObject;
  return { event_type: `${o.kind}/${o.name}.${o.namespace}`, client_payload: event };
}

/**
 * `githubdispatch`: a `repository_dispatch` event on the repository of the address (GitHub or GitHub
 * Enterprise), with the secret's `token` as bearer, for GitHub Actions workflows to run on Flux events.
 */
export function githubDispatchNotifier(config: NotifierConfig): Notifier {
  if (!config.token) throw new DeliveryError("githubdispatch provider needs a 'token' in its secret", false);
  const repo = parseRepositoryAddress(config.address);
  if (repo.path.split('/').length !== 2)
    throw new DeliveryError(`invalid repository id '${repo.path}': expected <owner>/<repository>`, false);
  const url = `${githubApiBase(repo.protocol, repo.host)}/repos/${repo.path}/dispatches`;
  const headers = {
    ...baseHeaders(config),
    accept: 'application/vnd.github+json',
    authorization: `Bearer ${config.token}`,
  };
  return {
    async post(event, signal) {
      await postHttp(url, JSON.stringify(githubDispatchPayload(event)), { ...config.http, headers, signal });
    },
  };
}
