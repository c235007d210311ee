/** A user name and password (or identity token) for one registry. */
export interface RegistryCredentials {
  username: string;
  password: string;
}

/** The Secret's docker config is not what kubernetes.io/dockerconfigjson holds; the message says what is wrong. */
export class DockerConfigError extends Error {
  override readonly name = 'DockerConfigError';
}

interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
}

/** The host[:port] a docker config key names (`https://host/v1/`, `host`, `host/path`). */
function keyHost(key: string): string {
  const withoutScheme = key.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
  return withoutScheme.split('/')[0]!.toLowerCase();
}

/** Docker Hub is written under several names in docker configs. */
function sameRegistry(a: string, b: string): boolean {
  const hub = (host: string) =>
    ['docker.io', 'index.docker.io', 'registry-1.docker.io'].includes(host) ? 'docker.io' : host;
  return hub(a) === hub(b);
}

/**
 * The credentials for `registry` in a docker config JSON (`.dockerconfigjson`, or the older `.dockercfg` map):
 * `auths[<key>]` whose host is the registry, from `auth` (base64 `user:password`) or `username`/`password`;
 * an `identitytoken` is used as the password with the user `<token>`, as Docker does. Undefined when the config
 * has no entry for this registry.
 */
export function credentialsFromDockerConfig(json: string, registry: string): RegistryCredentials | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw new DockerConfigError('the docker config is not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null)
    throw new DockerConfigError('the docker config is not an object');
  const record = parsed as Record<string, unknown>;
  const auths = (typeof record.auths === 'object' && record.auths !== null ? record.auths : record) as Record<
    string,
    AuthEntry
  >;
  const wanted = registry.toLowerCase();
  const entry = Object.entries(auths).find(([key]) => sameRegistry(keyHost(key), wanted))?.[1];
  if (!entry || typeof entry !== 'object') return undefined;
  if (entry.identitytoken) return { username: entry.username || '<token>', password: entry.identitytoken };
  if (entry.username !== undefined && entry.password !== undefined)
    return { username: entry.username, password: entry.password };
  if (entry.auth) {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0)
      throw new DockerConfigError(
        `the docker config's 'auth' for '${registry}' is not base64 of user:password`,
      );
    return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  return undefined;
}
