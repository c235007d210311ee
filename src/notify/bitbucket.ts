import { createHash } from 'node:crypto';
import { DeliveryError } from './delivery-error.ts';
import {
  commitStatusContext,
  commitStatusDescription,
  commitStatusName,
  eventCommit,
  isProgressing,
  parseRepositoryAddress,
} from './commit-status.ts';
import type { FluxEvent } from './flux-event.ts';
import { postHttp } from './http-post.ts';
import { baseHeaders, type Notifier, type NotifierConfig } from './notifier.ts';

/** The build status key Bitbucket (Cloud and Server) identifies a status by: sha1 hex of the commit status id. */
export function bitbucketStatusKey(event: FluxEvent, config: NotifierConfig): string {
  return createHash('sha1').update(commitStatusContext(event, config)).digest('hex');
}

/** `SUCCESSFUL` for info, `FAILED` for errors (Bitbucket Cloud and Server alike). */
export function bitbucketState(event: FluxEvent): 'SUCCESSFUL' | 'FAILED' {
  return event.severity === 'error' ? 'FAILED' : 'SUCCESSFUL';
}

/** Bitbucket Cloud's API for a repository host: api.bitbucket.org, or `<host>/2.0` for another (compatible) server. */
export function bitbucketApiBase(protocol: string, host: string): string {
  return host === 'bitbucket.org' ? 'https://api.bitbucket.org/2.0' : `${protocol}//${host}/2.0`;
}

/**
 * `bitbucket` (Cloud): a build status on the event's commit, with the secret's `token` `<user>:<app password>`
 * as basic auth. The current status of the key is read first and an identical one (state and description)
 * is not posted again, as Flux does. `Progressing` events and events without a revision are skipped.
 */
export function bitbucketNotifier(config: NotifierConfig): Notifier {
  if (!config.token)
    throw new DeliveryError(
      "bitbucket provider needs a 'token' (<username>:<app password>) in its secret",
      false,
    );
  const parts = config.token.split(':');
  if (parts.length !== 2)
    throw new DeliveryError("invalid bitbucket token format, expected '<username>:<app password>'", false);
  const repo = parseRepositoryAddress(config.address);
  if (repo.path.split('/').length !== 2)
    throw new DeliveryError(`invalid repository id '${repo.path}': expected <workspace>/<repository>`, false);
  const headers = {
    ...baseHeaders(config),
    authorization: `Basic ${Buffer.from(config.token).toString('base64')}`,
  };
  const api = `${bitbucketApiBase(repo.protocol, repo.host)}/repositories/${repo.path}/commit`;
  return {
    async post(event, signal) {
      const sha = eventCommit(event);
      if (!sha || isProgressing(event)) return;
      const status = {
        key: bitbucketStatusKey(event, config),
        url: 'https://bitbucket.org',
        state: bitbucketState(event),
        name: commitStatusName(event),
        description: commitStatusDescription(event),
      };
      const current = await getStatus(`${api}/${sha}/statuses/build/${status.key}`, {
        ...config.http,
        headers,
        signal,
      });
      if (current?.state === status.state && current.description === status.description) return;
      await postHttp(`${api}/${sha}/statuses/build`, JSON.stringify(status), {
        ...config.http,
        headers,
        signal,
      });
    },
  };
}

/** The existing status, or undefined when the API answers 404 (none yet). */
async function getStatus(
  url: string,
  options: Parameters<typeof postHttp>[2],
): Promise<{ state?: string; description?: string } | undefined> {
  try {
    const response = await postHttp(url, '', { ...options, method: 'GET' });
    return JSON.parse(response.body) as { state?: string; description?: string };
  } catch (error) {
    if (error instanceof DeliveryError && error.statusCode === 404) return undefined;
    if (error instanceof SyntaxError) return undefined;
    throw error;
  }
}
