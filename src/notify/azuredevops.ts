import { DeliveryError } from './delivery-error.ts';
import {
  commitStatusContext,
  commitStatusDescription,
  eventCommit,
  isProgressing,
  parseRepositoryAddress,
} from './commit-status.ts';
import type { FluxEvent } from './flux-event.ts';
import { postHttp } from './http-post.ts';
import { baseHeaders, type Notifier, type NotifierConfig } from './notifier.ts';

/** The REST API version of the status calls (the one Flux's Azure DevOps client speaks). */
export const AZURE_DEVOPS_API_VERSION = '6.0';

/** The status genre: `fluxcd`, or `fluxcd:<summary>` when the Alert sets a summary. */
export function azureDevOpsGenre(event: FluxEvent): string {
  const summary = event.metadata?.summary;
  return summary ? `fluxcd:${summary}` : 'fluxcd';
}

/** `succeeded` for info, `error` for errors. */
export function azureDevOpsState(event: FluxEvent): 'succeeded' | 'error' {
  return event.severity === 'error' ? 'error' : 'succeeded';
}

interface GitStatus {
  state?: string;
  description?: string;
  context?: { name?: string; genre?: string };
}

/**
 * `azuredevops`: a commit status on the event's commit of `https://dev.azure.com/<org>/<project>/_git/<repo>`,
 * with the secret's `token` (a personal access token) as basic auth. The commit's statuses are read first and
 * an identical one (same context, state and description) is not posted again, as Flux does. `Progressing`
 * events and events without a revision are skipped.
 */
export function azureDevOpsNotifier(config: NotifierConfig): Notifier {
  if (!config.token) {
    throw new DeliveryError(
      "azuredevops provider needs a 'token' (a personal access token) in its secret; Azure managed identity is not supported",
      false,
    );
  }
  const repo = parseRepositoryAddress(config.address);
  const parts = repo.path.split('/');
  if (parts.length !== 4)
    throw new DeliveryError(
      `invalid repository id '${repo.path}': expected <organization>/<project>/_git/<repository>`,
      false,
    );
  const [org, project, , name] = parts as [string, string, string, string];
  const statuses = (sha: string) =>
    `${repo.protocol}//${repo.host}/${org}/${project}/_apis/git/repositories/${name}/commits/${sha}/statuses?api-version=${AZURE_DEVOPS_API_VERSION}`;
  const headers = {
    ...baseHeaders(config),
    accept: 'application/json',
    authorization: `Basic ${Buffer.from(`:${config.token}`).toString('base64')}`,
  };
  return {
    async post(event, signal) {
      const sha = eventCommit(event);
      if (!sha || isProgressing(event)) return;
      const status = {
        state: azureDevOpsState(event),
        description: commitStatusDescription(event),
        context: { name: commitStatusContext(event, config), genre: azureDevOpsGenre(event) },
      };
      const listed = await postHttp(statuses(sha), '', { ...config.http, method: 'GET', headers, signal });
      const existing = parseStatuses(listed.body).find(
        (s) =>
          s.context?.name &&
          s.context.genre &&
          s.state &&
          s.description &&
          s.context.name === status.context.name &&
          s.context.genre === status.context.genre,
      );
      if (existing?.state === status.state && existing.description === status.description) return;
      await postHttp(statuses(sha), JSON.stringify(status), { ...config.http, headers, signal });
    },
  };
}

function parseStatuses(text: string): GitStatus[] {
  try {
    const value = JSON.parse(text) as { value?: unknown };
    return Array.isArray(value.value) ? (value.value as GitStatus[]) : [];
  } catch {
    return [];
  }
}
