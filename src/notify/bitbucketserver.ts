import { DeliveryError } from './delivery-error.ts';
import { bitbucketState, bitbucketStatusKey } from './bitbucket.ts';
import { commitStatusDescription, commitStatusName, eventCommit, isProgressing } from './commit-status.ts';
import { postHttp } from './http-post.ts';
import { baseHeaders, type Notifier, type NotifierConfig } from './notifier.ts';

/**
 * The commits API of a Bitbucket Server / Data Center repository from its http(s) clone URL
 * (`https://host[/context]/scm/<project>/<repo>.git` → `…/rest/api/latest/projects/<project>/repos/<repo>/commits`).
 */
export function bitbucketServerCommitsUrl(address: string): string {
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    throw new DeliveryError('invalid bitbucketserver address: not a URL', false);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new DeliveryError('invalid bitbucketserver address: must be an http(s) clone URL', false);
  const path = url.pathname.replace(/\.git$/, '');
  const scm = path.lastIndexOf('/scm/');
  if (scm < 0)
    throw new DeliveryError(
      `invalid bitbucketserver address ${url.host}: not an http(s) clone URL (…/scm/<project>/<repo>.git)`,
      false,
    );
  const id = path.slice(scm + '/scm/'.length).split('/');
  if (id.length !== 2 || !id[0] || !id[1])
    throw new DeliveryError(
      `invalid bitbucketserver repository id '${id.join('/')}': expected <project>/<repository>`,
      false,
    );
  return `${url.protocol}//${url.host}${path.slice(0, scm)}/rest/api/latest/projects/${id[0]}/repos/${id[1]}/commits`;
}

/**
 * `bitbucketserver`: a build status on the event's commit, authenticated with the secret's `token` (bearer) or
 * `username`/`password` (basic). The current status of the key is read first and an identical one is not
 * posted again, as Flux does. `Progressing` events and events without a revision are skipped.
 */
export function bitbucketServerNotifier(config: NotifierConfig): Notifier {
  const commits = bitbucketServerCommitsUrl(config.address);
  const username = config.basicAuth?.username ?? config.username;
  const password = config.basicAuth?.password ?? config.password;
  let authorization: string;
  if (config.token) authorization = `Bearer ${config.token}`;
  else if (username && password)
    authorization = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
  else
    throw new DeliveryError(
      "bitbucketserver provider needs a 'token', or a 'username' and 'password', in its secret",
      false,
    );
  const headers = {
    ...baseHeaders(config),
    authorization,
    'x-atlassian-token': 'no-check',
    'x-requested-with': 'XMLHttpRequest',
  };
  return {
    async post(event, signal) {
      const sha = eventCommit(event);
      if (!sha || isProgressing(event)) return;
      const description = commitStatusDescription(event);
      const status = {
        key: bitbucketStatusKey(event, config),
        state: bitbucketState(event),
        url: config.address,
        description,
        name: `${commitStatusName(event)} [${description}]`,
      };
      const builds = `${commits}/${sha}/builds`;
      const current = await currentStatus(`${builds}?key=${status.key}`, { ...config.http, headers, signal });
      if (
        current &&
        current.key === status.key &&
        current.state === status.state &&
        current.description === description &&
        current.name === status.name
      )
        return;
      await postHttp(builds, JSON.stringify(status), { ...config.http, headers, signal });
    },
  };
}

async function currentStatus(
  url: string,
  options: Parameters<typeof postHttp>[2],
): Promise<Record<string, unknown> | undefined> {
  try {
    const response = await postHttp(url, '', { ...options, method: 'GET' });
    return response.statusCode === 200 ? (JSON.parse(response.body) as Record<string, unknown>) : undefined;
  } catch (error) {
    if (error instanceof DeliveryError && error.statusCode === 404) return undefined;
    if (error instanceof SyntaxError) return undefined;
    throw error;
  }
}
