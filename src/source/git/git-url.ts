import { GitError } from './git-error.ts';

/** Transports Kedge fetches from; `file` is a Kedge extension for local repositories. */
export type GitTransport = 'http' | 'ssh' | 'git' | 'file';

const SCHEMES: Record<string, GitTransport> = {
  'http:': 'http',
  'https:': 'http',
  'ssh:': 'ssh',
  'git:': 'git',
  'file:': 'file',
};

/** Returns the transport of `url`, or throws GitError 'invalid-url' (message scrubbed) for any other form. */
export function gitTransport(url: string): GitTransport {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new GitError(
      'invalid-url',
      `'${scrubUrl(url)}' is not a valid url: use http(s)://, ssh://, git:// or file://`,
    );
  }
  const transport = SCHEMES[parsed.protocol];
  if (!transport) {
    throw new GitError(
      'invalid-url',
      `unsupported url scheme '${parsed.protocol.replace(/:$/, '')}' in '${scrubUrl(url)}': use http(s)://, ssh://, git:// or file://`,
    );
  }
  return transport;
}

/** Removes `user:password@` from every URL in `text`, keeping a bare SSH user name (`ssh://git@host`). */
export function scrubUrl(text: string): string {
  return redactQueryValues(withoutSecretUserinfo(text));
}

/** `scrubUrl` without the query redaction: for a URL git must still be able to use (a remote's configured URL). */
export function withoutSecretUserinfo(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)([^/@\s]+)@/gi, (_match, scheme: string, userinfo: string) =>
    userinfo.includes(':') || !scheme.toLowerCase().startsWith('ssh') ? scheme : `${scheme}${userinfo}@`,
  );
}

/** The values of a URL's query parameters (`?token=…`, a signed URL's signature) become `***`; the names stay. */
function redactQueryValues(text: string): string {
  return text.replace(
    /([a-z][a-z0-9+.-]*:\/\/[^\s'"?#]*\?)([^\s'"#]+)/gi,
    (_match, base: string, query: string) =>
      base + query.replace(/=([^&;]*)/g, (_m, value: string) => (value ? '=***' : '=')),
  );
}

/** Scrubs URLs and replaces every occurrence of the given secrets with `***`. */
export function scrubMessage(text: string, secrets: readonly string[]): string {
  let out = scrubUrl(text);
  for (const secret of secrets) out = out.split(secret).join('***');
  return out;
}

/**
 * Moves `user:password@` out of an HTTP(S) URL into basic-auth credentials (unless `creds` already has
 * HTTP credentials), so that it never reaches a process argument. For SSH the user name stays (it names
 * the account) and a password is dropped; other URLs are returned as they are.
 */
export function splitUrlCredentials<C extends { username?: string; password?: string; bearerToken?: string }>(
  url: string,
  creds: C,
): { url: string; creds: C } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { url, creds };
  }
  if (!parsed.username && !parsed.password) return { url, creds };
  const username = decodeURIComponent(parsed.username);
  const password = decodeURIComponent(parsed.password);
  if (parsed.protocol === 'ssh:') {
    parsed.password = '';
    return { url: parsed.toString(), creds };
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return { url, creds };
  parsed.username = '';
  parsed.password = '';
  const hasHttpCreds = creds.username || creds.password || creds.bearerToken;
  return { url: parsed.toString(), creds: hasHttpCreds ? creds : { ...creds, username, password } };
}
