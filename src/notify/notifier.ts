import type { ProviderType } from '../api/provider.ts';
import type { FluxEvent } from './flux-event.ts';
import type { PostOptions } from './http-post.ts';

/** Everything a provider implementation needs, resolved from a Provider and its Secrets. */
export interface NotifierConfig {
  type: ProviderType;
  /** Provider `address`, or the secret's `address`, which wins. */
  address: string;
  channel?: string;
  username?: string;
  /** Secret `token`: bearer token, HMAC key or API token depending on the type. */
  token?: string;
  /** Secret `username` / `password`: basic auth for generic webhooks. */
  basicAuth?: { username: string; password: string };
  /** Secret `password` alone (Gitea and GitLab take it as the token when `token` is absent). */
  password?: string;
  /**
   * The commit status id for commit-status providers (Provider `commitStatusExpr` once evaluated); when
   * absent, Flux's default `<kind>/<name>/<first segment of the Provider's uid>` is used.
   */
  commitStatus?: string;
  /** `nats`: the secret's `creds` (user JWT credentials file) and `nkey` (NKey seed), Flux's NATS auth. */
  nats?: { creds?: string; nkey?: string };
  /** Secret `headers` (a YAML map), added to every request. */
  headers?: Record<string, string>;
  /** The Alert the event is delivered for, set by the dispatcher (`otel` names its service after it). */
  alert?: { namespace: string; name: string; uid?: string };
  /** Identifies the Provider (commit status contexts). */
  provider: { namespace: string; name: string; uid?: string };
  /** Timeout, CA and proxy for every request. */
  http: Omit<PostOptions, 'headers' | 'signal'>;
}

/** Sends one event to one destination. Throws DeliveryError when it could not. */
export interface Notifier {
  post(event: FluxEvent, signal?: AbortSignal): Promise<void>;
}

/** JSON content type and the secret's extra headers, the base of every provider's request. */
export function baseHeaders(config: NotifierConfig): Record<string, string> {
  return { 'content-type': 'application/json', ...config.headers };
}
