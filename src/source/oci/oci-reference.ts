/*
 * OCI references as Flux and the distribution spec write them: `oci://<registry>/<repository>[:<tag>|@<digest>]`.
 * A registry is the first path component when it looks like a host (has a `.` or a `:`, or is `localhost`);
 * otherwise the reference is on Docker Hub, as every OCI client reads it.
 */

/** The scheme every OCIRepository URL and `kedge push|pull artifact` address starts with. */
export const OCI_SCHEME = 'oci://';

/** Docker Hub's API host, for references without a registry. */
const DOCKER_HUB = 'registry-1.docker.io';

const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const REPOSITORY = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$|^sha512:[a-f0-9]{128}$/;
const REGISTRY = /^(?:\[[0-9a-fA-F:.]+\]|[a-zA-Z0-9](?:[a-zA-Z0-9.-]*[a-zA-Z0-9])?)(?::[0-9]+)?$/;

/** A repository in a registry: where tags and manifests live. */
export interface OciRepositoryAddress {
  /** `host[:port]`, as the registry's HTTP API is reached. */
  registry: string;
  /** The repository path, e.g. `org/manifests`. */
  repository: string;
}

/** An artifact address: a repository plus a tag or a digest (or neither). */
export interface OciArtifactAddress extends OciRepositoryAddress {
  tag?: string;
  digest?: string;
}

/** The reference is not a valid OCI address; the message says which part and why. */
export class OciReferenceError extends Error {
  override readonly name = 'OciReferenceError';
}

/** Whether `text` is a valid tag (`[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`). */
export function isValidTag(text: string): boolean {
  return TAG.test(text);
}

/** Whether `text` is a `sha256:`/`sha512:` digest in lowercase hex. */
export function isValidDigest(text: string): boolean {
  return DIGEST.test(text);
}

/** `registry/repository`, as printed and as `oci://` URLs hold it. */
export function formatRepository(address: OciRepositoryAddress): string {
  return `${address.registry}/${address.repository}`;
}

/**
 * Parses `oci://host/repo[:tag|@digest]`. With `allowReference: false` (an OCIRepository's `spec.url`), a tag
 * or digest in the URL is an error, as in Flux: the reference goes in `spec.ref`.
 */
export function parseOciUrl(url: string, options: { allowReference?: boolean } = {}): OciArtifactAddress {
  if (!url.startsWith(OCI_SCHEME))
    throw new OciReferenceError(`URL must be in format 'oci://<domain>/<org>/<repo>', got '${url}'`);
  let rest = url.slice(OCI_SCHEME.length);
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  const slash = rest.indexOf('/');
  const first = slash < 0 ? rest : rest.slice(0, slash);
  const hasRegistry = slash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost');
  const registry = hasRegistry ? first : DOCKER_HUB;
  let path = hasRegistry ? rest.slice(slash + 1) : rest;
  let tag: string | undefined;
  const colon = path.lastIndexOf(':');
  if (colon >= 0) {
    tag = path.slice(colon + 1);
    path = path.slice(0, colon);
  }
  if (!hasRegistry && path !== '' && !path.includes('/')) path = `library/${path}`;
  if (!REGISTRY.test(registry)) throw new OciReferenceError(`invalid registry '${registry}' in '${url}'`);
  if (!REPOSITORY.test(path))
    throw new OciReferenceError(
      `invalid repository '${path}' in '${url}': lowercase letters, digits and separators (. _ __ -) in /-separated components`,
    );
  if (tag !== undefined && !isValidTag(tag)) throw new OciReferenceError(`invalid tag '${tag}' in '${url}'`);
  if (digest !== undefined && !isValidDigest(digest))
    throw new OciReferenceError(`invalid digest '${digest}' in '${url}': expected sha256:<64 hex digits>`);
  if (options.allowReference === false) {
    if (tag !== undefined) throw new OciReferenceError(`URL must not contain a tag; remove ':${tag}'`);
    if (digest !== undefined)
      throw new OciReferenceError(`URL must not contain a digest; remove '@${digest}'`);
  }
  return { registry, repository: path, ...(tag !== undefined ? { tag } : {}), ...(digest ? { digest } : {}) };
}

/** Whether the registry is on this machine or a private network, where plain HTTP is tried after HTTPS fails. */
export function isLocalRegistry(registry: string): boolean {
  const host = registry.replace(/:[0-9]+$/, '').replace(/^\[|\]$/g, '');
  return (
    host === 'localhost' ||
    host === '::1' ||
    host.endsWith('.local') ||
    /^127\./.test(host) ||
    /^10\./.test(host) ||
    /^192\.168\./.test(host) ||
    /^172\.(1[6-9]|2[0-9]|3[01])\./.test(host)
  );
}
