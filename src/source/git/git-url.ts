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
    throw new GitError('invalid-url', `'${scrubUrl(url)}' is not a valid url: use http(s)://, ssh://, git:// or file://`);
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
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)([^/@\s]+)@/gi, (_match, scheme: string, userinfo: string) =>
    userinfo.includes(':') || !scheme.toLowerCase().startsWith('ssh') ? scheme : `${scheme}${userinfo}@`,
  );
}

/** Scrubs URLs and replaces every occurrence of the given secrets with `***`. */
export function scrubMessage(text: string, secrets: readonly string[]): string {
  let out = scrubUrl(text);
  for (const secret of secrets) out = out.split(secret).join('***');
  return out;
}
