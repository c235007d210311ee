import { secretValues } from '../api/core.ts';
import type { HelmRepository } from '../api/helmrepository.ts';
import type { RepositoryAccess } from '../source/helm/helm-http.ts';
import type { Store } from '../store/store.ts';

/** A Secret a HelmRepository names is missing or lacks what it needs; the message names it, never its data. */
export class RepositoryAccessError extends Error {
  override readonly name = 'RepositoryAccessError';
}

/**
 * The credentials and TLS material of a HelmRepository, as Flux's getter options read them: `secretRef` holds
 * `username`/`password` (and, deprecated, TLS keys); `certSecretRef` holds `ca.crt`, `tls.crt`, `tls.key`
 * (or the legacy `caFile`, `certFile`, `keyFile`), and wins over TLS keys in `secretRef`.
 */
export async function helmRepositoryAccess(
  store: Store,
  repository: HelmRepository,
): Promise<RepositoryAccess> {
  const spec = repository.spec!;
  const namespace = repository.metadata.namespace ?? 'default';
  const read = async (name: string, purpose: string): Promise<Record<string, string>> => {
    const secret = await store.get({ kind: 'Secret', namespace, name });
    if (!secret)
      throw new RepositoryAccessError(`failed to get ${purpose} secret '${namespace}/${name}': not found`);
    return secretValues(secret);
  };
  const access: RepositoryAccess = {};
  if (spec.secretRef) {
    const data = await read(spec.secretRef.name, 'authentication');
    const { username, password } = data;
    if ((username === undefined) !== (password === undefined))
      throw new RepositoryAccessError(
        `invalid '${namespace}/${spec.secretRef.name}' secret data: it needs both 'username' and 'password'`,
      );
    if (username !== undefined && password !== undefined) access.basicAuth = { username, password };
    Object.assign(access, tlsFrom(data, `${namespace}/${spec.secretRef.name}`));
  }
  if (spec.certSecretRef) {
    const name = `${namespace}/${spec.certSecretRef.name}`;
    const tls = tlsFrom(await read(spec.certSecretRef.name, 'TLS'), name);
    if (!tls.ca && !tls.cert)
      throw new RepositoryAccessError(`TLS secret '${name}' has none of 'ca.crt', 'tls.crt' and 'tls.key'`);
    Object.assign(access, tls);
  }
  return access;
}

function tlsFrom(data: Record<string, string>, name: string): RepositoryAccess {
  const ca = data['ca.crt'] ?? data.caFile;
  const cert = data['tls.crt'] ?? data.certFile;
  const key = data['tls.key'] ?? data.keyFile;
  if ((cert === undefined) !== (key === undefined))
    throw new RepositoryAccessError(`secret '${name}': 'tls.crt' and 'tls.key' must be given together`);
  return { ...(ca ? { ca } : {}), ...(cert && key ? { cert, key } : {}) };
}

/** The repository URL with one trailing slash, as Flux normalizes it (charts' relative URLs resolve against it). */
export function normalizeRepositoryUrl(url: string): string {
  return `${url.replace(/\/+$/, '')}/`;
}

/** Whether credentials for `repositoryUrl` may go to `target`: same host, or `passCredentials`. */
export function mayPassCredentials(
  repositoryUrl: string,
  target: string,
  passCredentials: boolean | undefined,
): boolean {
  if (passCredentials) return true;
  const a = new URL(repositoryUrl);
  const b = new URL(target);
  return a.protocol === b.protocol && a.host === b.host;
}
