import { parse as parseYaml } from 'yaml';
import { secretValues } from '../api/core.ts';
import { parseDuration } from '../api/duration.ts';
import { DEFAULT_PROVIDER_TIMEOUT, type Provider, type ProviderType } from '../api/provider.ts';
import type { Store } from '../store/store.ts';
import { natsServers } from './nats.ts';
import type { NotifierConfig } from './notifier.ts';
import { SLACK_API_URL } from './slack.ts';
import { TELEGRAM_API_URL } from './telegram.ts';

/** The providers that write commit statuses to a git host. */
const COMMIT_STATUS_TYPES = new Set<ProviderType>([
  'github', 'gitlab', 'gitea', 'bitbucket', 'bitbucketserver', 'azuredevops',
  'githubpullrequestcomment', 'gitlabmergerequestcomment', 'giteapullrequestcomment',
]);

/** A Provider cannot be used as written (missing secret, key or address). Messages name the object, never values. */
export class ProviderConfigError extends Error {
  constructor(
    readonly reason: 'SecretNotFound' | 'ValidationFailed',
    message: string,
  ) {
    super(message);
    this.name = 'ProviderConfigError';
  }
}

/**
 * Resolves a Provider and its Secrets (same namespace) into what a notifier needs, as Flux reads them:
 * secretRef `address` (wins over spec.address), `token`, `username`/`password`, `headers` (a YAML map),
 * for `nats` also `creds` and `nkey`;
 * certSecretRef `ca.crt` (or legacy `caFile`; for commit-status providers without one, the credentials
 * secret's `ca.crt`); proxySecretRef `address`, `username`, `password`.
 */
export async function resolveNotifierConfig(store: Store, provider: Provider): Promise<NotifierConfig> {
  const spec = provider.spec!;
  const namespace = provider.metadata.namespace ?? 'default';
  const where = `Provider '${namespace}/${provider.metadata.name}'`;
  const secret = async (name: string, purpose: string) => {
    const object = await store.get({ kind: 'Secret', namespace, name });
    if (!object) throw new ProviderConfigError('SecretNotFound', `${purpose} secret '${namespace}/${name}' of ${where} not found`);
    return secretValues(object);
  };
  const config: NotifierConfig = {
    type: spec.type as ProviderType,
    address: spec.address ?? '',
    channel: spec.channel,
    username: spec.username,
    provider: { namespace, name: provider.metadata.name, uid: provider.metadata.uid },
    http: { timeoutMs: parseDuration(spec.timeout ?? DEFAULT_PROVIDER_TIMEOUT), proxyUrl: spec.proxy },
  };
  if (spec.secretRef) {
    const data = await secret(spec.secretRef.name, 'credentials');
    if (data.address) config.address = data.address.trim();
    if (data.token) config.token = data.token.trim();
    if (data.password) config.password = data.password;
    if (data.username && data.password) config.basicAuth = { username: data.username, password: data.password };
    if (config.type === 'nats' && (data.creds || data.nkey)) config.nats = { creds: data.creds, nkey: data.nkey };
    if (data.headers) config.headers = parseHeaders(data.headers, `${where} secret '${spec.secretRef.name}'`);
    // Flux: git hosts may carry their CA in the credentials secret when there is no certSecretRef.
    if (!spec.certSecretRef && COMMIT_STATUS_TYPES.has(config.type) && data['ca.crt']) config.http.ca = data['ca.crt'];
  }
  if (spec.certSecretRef) {
    const data = await secret(spec.certSecretRef.name, 'certificate');
    const ca = data['ca.crt'] ?? data.caFile;
    if (!ca) throw new ProviderConfigError('ValidationFailed', `certificate secret '${namespace}/${spec.certSecretRef.name}' of ${where} has no 'ca.crt' key`);
    config.http.ca = ca;
  }
  if (spec.proxySecretRef) {
    const data = await secret(spec.proxySecretRef.name, 'proxy');
    if (!data.address) throw new ProviderConfigError('ValidationFailed', `proxy secret '${namespace}/${spec.proxySecretRef.name}' of ${where} has no 'address' key`);
    const proxy = new URL(data.address);
    if (data.username) proxy.username = encodeURIComponent(data.username);
    if (data.password) proxy.password = encodeURIComponent(data.password);
    config.http.proxyUrl = proxy.toString();
  }
  if (!config.address && config.type === 'slack' && config.token) config.address = SLACK_API_URL;
  if (!config.address && config.type === 'telegram') config.address = TELEGRAM_API_URL;
  if (!config.address) throw new ProviderConfigError('ValidationFailed', `${where} has no address (spec.address or the secret's 'address' key)`);
  const addresses = config.type === 'nats' ? natsServers(config.address) : [config.address];
  if (!addresses.every((a) => URL.canParse(a))) throw new ProviderConfigError('ValidationFailed', `${where} has an address that is not a valid URL`);
  return config;
}

function parseHeaders(text: string, where: string): Record<string, string> {
  let value: unknown;
  try {
    value = parseYaml(text);
  } catch {
    value = undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ProviderConfigError('ValidationFailed', `'headers' in ${where} must be a YAML map of header names to values`);
  }
  return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k.toLowerCase(), String(v)]));
}
