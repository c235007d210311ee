import { createHash } from 'node:crypto';
import type { Alert } from '../api/alert.ts';
import { COMMIT_STATUS_PROVIDER_TYPES, type Provider } from '../api/provider.ts';
import { compileCel } from '../cel/cel-expression.ts';
import { FluxCel } from '../cel/flux-expressions.ts';
import { DeliveryError } from './delivery-error.ts';
import { eventRevision, type FluxEvent } from './flux-event.ts';
import type { NotifierConfig } from './notifier.ts';

/** A repository address (`https://github.com/org/app`) split into what the APIs need. */
export interface RepositoryAddress {
  /** `https:` (or `http:` for a local test server). */
  protocol: string;
  host: string;
  /** `org/app` (GitLab: with subgroups). */
  path: string;
}

/** Parses a Provider address naming a repository; `.git` and trailing slashes are dropped. */
export function parseRepositoryAddress(address: string): RepositoryAddress {
  let url: URL;
  try {
    url = new URL(address.replace(/^ssh:\/\/git@/, 'https://').replace(/^git@([^:]+):/, 'https://$1/'));
  } catch {
    throw new DeliveryError('invalid repository address: not a URL', false);
  }
  const path = url.pathname.replace(/^\/+|\/+$/g, '').replace(/\.git$/, '');
  if (path.split('/').length < 2) throw new DeliveryError(`invalid repository address '${url.host}/${path}': expected host/owner/repository`, false);
  return { protocol: url.protocol === 'http:' ? 'http:' : 'https:', host: url.host, path };
}

/** The commit an event is about: the hash of its revision metadata (`main@sha1:<hash>`, or legacy `main/<hash>`). */
export function eventCommit(event: FluxEvent): string | undefined {
  const revision = eventRevision(event);
  if (!revision) return undefined;
  const match = /(?:sha1|sha256):([0-9a-f]{40,64})$/.exec(revision) ?? /(?:^|\/)([0-9a-f]{40,64})$/.exec(revision);
  return match?.[1];
}

/**
 * The commit status id (GitHub context, GitLab name, Gitea context, Bitbucket key source, Azure DevOps
 * context name): the Provider's evaluated `commitStatusExpr` when given, else Flux's default
 * `<kind>/<name>/<first segment of the Provider uid>` in lower case, so statuses written by Flux and by
 * Kedge for one Provider are the same check. Without a uid, 8 hex of the Provider's name stand in for it.
 */
export function commitStatusContext(event: FluxEvent, config: NotifierConfig): string {
  if (config.commitStatus) return config.commitStatus;
  const uid = config.provider.uid;
  const suffix = uid ? uid.split('-')[0]! : createHash('sha256').update(`${config.provider.namespace}/${config.provider.name}`).digest('hex').slice(0, 8);
  return `${event.involvedObject.kind}/${event.involvedObject.name}/${suffix}`.toLowerCase();
}

/** `<kind>/<name>` in lower case: the status name Bitbucket shows (Flux's `formatNameAndDescription`). */
export function commitStatusName(event: FluxEvent): string {
  return `${event.involvedObject.kind}/${event.involvedObject.name}`.toLowerCase();
}

/** Flux's commit-status providers (all but Gitea, which reports `pending`) send nothing for `Progressing` events. */
export function isProgressing(event: FluxEvent): boolean {
  return event.reason === 'Progressing';
}

/** `ReconciliationSucceeded` → `reconciliation succeeded`, capped at 140 characters (GitHub's limit). */
export function commitStatusDescription(event: FluxEvent): string {
  const words = event.reason.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase();
  return words.length > 140 ? `${words.slice(0, 137)}...` : words;
}

/** The commit an event must carry to be sent as a commit status, and the token to send it with. */
export function requireCommit(event: FluxEvent, config: NotifierConfig, type: string): { sha: string; token: string } | undefined {
  if (!config.token) throw new DeliveryError(`${type} provider needs a 'token' in its secret`, false);
  const sha = eventCommit(event);
  return sha ? { sha, token: config.token } : undefined;
}

/**
 * The commit status key `provider.spec.commitStatusExpr` gives for `event` sent through `alert` (CEL over
 * `event`, `alert` and `provider`, as Flux), or undefined when the Provider has none or sets no commit
 * statuses. Throws DeliveryError (not retryable) naming the expression when it fails to evaluate.
 */
export function commitStatusFromExpr(provider: Provider, alert: Alert, event: FluxEvent): string | undefined {
  const expr = provider.spec?.commitStatusExpr;
  if (!expr || !(COMMIT_STATUS_PROVIDER_TYPES as readonly string[]).includes(provider.spec!.type)) return undefined;
  try {
    return compileCel(expr, FluxCel.commitStatus).evaluateString({ event, alert, provider });
  } catch (error) {
    throw new DeliveryError(`failed to evaluate the spec.commitStatusExpr CEL expression for the event: ${(error as Error).message}`, false);
  }
}
