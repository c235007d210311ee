import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import {
  request as httpRequest,
  type Agent,
  type IncomingMessage,
  type OutgoingHttpHeaders,
} from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { tunnelingAgent } from '../tunneling-agent.ts';
import { parseAuthChallenge, type AuthChallenge } from './auth-challenge.ts';
import type { RegistryCredentials } from './docker-config.ts';
import { MANIFEST_MEDIA_TYPES, type Descriptor } from './manifest.ts';
import { OciError, registryErrorText, type OciErrorKind } from './oci-error.ts';
import { isLocalRegistry } from './oci-reference.ts';

/** How to reach one registry (an OCIRepository's spec with its Secrets resolved, or the CLI's flags). */
export interface RegistryClientOptions {
  credentials?: RegistryCredentials;
  /** Plain HTTP is allowed, and without a CA the server's certificate is not verified (Flux's `insecure`). */
  insecure?: boolean;
  /** PEM CA bundle to trust, and a client certificate and key to present (`certSecretRef`). */
  ca?: string;
  cert?: string;
  key?: string;
  /** `http://[user:pass@]host:port`: connections are tunnelled through it with CONNECT. */
  proxyUrl?: string;
  /** Cancels every request (the reconcile's timeout). */
  signal?: AbortSignal;
  userAgent?: string;
}

/** A request body that can be sent again (after an authentication challenge). */
interface Body {
  length: number;
  open(): Readable | Buffer;
}

interface CallOptions {
  /** The repository the request is about (the token scope), and whether it pushes. */
  repository?: string;
  push?: boolean;
  headers?: OutgoingHttpHeaders;
  body?: Body;
  /** Statuses that are a success; anything else is an OciError. */
  expect: number[];
  /** What the request does, for errors: "resolve 127.0.0.1:5000/app:v1". */
  what: string;
}

/** Largest manifest accepted (distribution's own limit). */
const MANIFEST_LIMIT = 4 * 1024 * 1024;
/** TLS failures that mean "this port speaks plain HTTP". */
const NOT_TLS = new Set(['EPROTO', 'ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_SSL_PACKET_LENGTH_TOO_LONG']);

/**
 * The distribution API of one registry over node:http(s): tag listing, manifest HEAD/GET, blob download with
 * digest verification, blob upload (monolithic) and manifest PUT. Authentication as registries ask for it:
 * the first request pings `/v2/` (as go-containerregistry does); a `Basic` challenge gets the credentials, a
 * `Bearer` challenge a token from its realm (anonymously without credentials), one token per scope. HTTPS
 * first; plain HTTP only for `insecure` or a loopback/private registry whose port does not speak TLS.
 */
export class RegistryClient {
  #scheme: 'https' | 'http' | undefined;
  #challenge: AuthChallenge | undefined;
  readonly #tokens = new Map<string, string>();
  readonly #agents = new Map<string, Agent>();

  constructor(
    readonly registry: string,
    private readonly options: RegistryClientOptions = {},
  ) {}

  /** Closes the kept-alive connections. */
  close(): void {
    for (const agent of this.#agents.values()) agent.destroy();
    this.#agents.clear();
  }

  /** Every tag of `repository`, following pagination. */
  async listTags(repository: string): Promise<string[]> {
    const tags: string[] = [];
    let path: string | undefined = `/v2/${repository}/tags/list?n=1000`;
    while (path) {
      const res = await this.call('GET', path, {
        repository,
        expect: [200],
        what: `list tags of ${this.registry}/${repository}`,
      });
      const body = JSON.parse((await readBody(res, MANIFEST_LIMIT)).toString('utf8')) as {
        tags?: string[] | null;
      };
      tags.push(...(body.tags ?? []));
      const next = /<([^>]+)>\s*;\s*rel="?next"?/.exec(String(res.headers.link ?? ''))?.[1];
      path = next;
    }
    return tags;
  }

  /** The descriptor `reference` (a tag or digest) points to, with HEAD (nothing downloaded); GET if HEAD tells no digest. */
  async resolve(repository: string, reference: string): Promise<Descriptor> {
    const what = `resolve ${this.registry}/${repository}${reference.includes(':') ? '@' : ':'}${reference}`;
    const res = await this.call('HEAD', `/v2/${repository}/manifests/${reference}`, {
      repository,
      headers: { accept: MANIFEST_MEDIA_TYPES.join(', ') },
      expect: [200],
      what,
    });
    res.resume();
    const digest = res.headers['docker-content-digest'];
    const mediaType = String(res.headers['content-type'] ?? '')
      .split(';')[0]!
      .trim();
    if (typeof digest === 'string' && digest.startsWith('sha256:'))
      return { mediaType, digest, size: Number(res.headers['content-length'] ?? 0) };
    return (await this.getManifest(repository, reference)).descriptor;
  }

  /** The manifest (or index) `reference` points to, verified against the digest when `reference` is one. */
  async getManifest(repository: string, reference: string): Promise<{ descriptor: Descriptor; raw: Buffer }> {
    const byDigest = reference.includes(':');
    const res = await this.call('GET', `/v2/${repository}/manifests/${reference}`, {
      repository,
      headers: { accept: MANIFEST_MEDIA_TYPES.join(', ') },
      expect: [200],
      what: `fetch manifest ${this.registry}/${repository}${byDigest ? '@' : ':'}${reference}`,
    });
    const raw = await readBody(res, MANIFEST_LIMIT);
    const digest = sha256(raw);
    if (byDigest && digest !== reference)
      throw new OciError(
        'digest-mismatch',
        `manifest ${reference} from ${this.registry}/${repository} has digest ${digest}`,
      );
    const declared = String(res.headers['content-type'] ?? '')
      .split(';')[0]!
      .trim();
    const mediaType =
      declared || ((JSON.parse(raw.toString('utf8')) as { mediaType?: string }).mediaType ?? '');
    return { descriptor: { mediaType, digest, size: raw.length }, raw };
  }

  /** Downloads a blob into `file`, checking its size and SHA-256 against the descriptor as it streams. */
  async downloadBlob(
    repository: string,
    blob: Pick<Descriptor, 'digest' | 'size'>,
    file: string,
  ): Promise<void> {
    const what = `download blob ${blob.digest} from ${this.registry}/${repository}`;
    let res = await this.call('GET', `/v2/${repository}/blobs/${blob.digest}`, {
      repository,
      expect: [200, 301, 302, 303, 307, 308],
      what,
    });
    for (let hops = 0; isRedirect(res.statusCode); hops++) {
      res.resume();
      if (hops >= 5) throw new OciError('protocol', `${what}: too many redirects`);
      res = await this.redirect(new URL(String(res.headers.location), this.#baseUrl()), what);
    }
    const hash = createHash('sha256');
    let size = 0;
    await pipeline(
      res,
      async function* (source: AsyncIterable<Buffer>) {
        for await (const chunk of source) {
          size += chunk.length;
          if (blob.size > 0 && size > blob.size)
            throw new OciError('digest-mismatch', `${what}: more than the ${blob.size} bytes announced`);
          hash.update(chunk);
          yield chunk;
        }
      },
      createWriteStream(file),
    );
    const actual = `sha256:${hash.digest('hex')}`;
    if (actual !== blob.digest || (blob.size > 0 && size !== blob.size))
      throw new OciError('digest-mismatch', `${what}: got ${size} bytes with digest ${actual}`);
  }

  /** Whether the registry already has the blob (no need to upload it again). */
  async blobExists(repository: string, digest: string): Promise<boolean> {
    const res = await this.call('HEAD', `/v2/${repository}/blobs/${digest}`, {
      repository,
      push: true,
      expect: [200, 404],
      what: `check blob ${digest} in ${this.registry}/${repository}`,
    });
    res.resume();
    return res.statusCode === 200;
  }

  /** Uploads a blob in one request (POST for an upload session, then PUT with the digest). */
  async uploadBlob(
    repository: string,
    blob: { digest: string; size: number; open(): Readable | Buffer },
  ): Promise<void> {
    const what = `upload blob ${blob.digest} to ${this.registry}/${repository}`;
    const started = await this.call('POST', `/v2/${repository}/blobs/uploads/`, {
      repository,
      push: true,
      headers: { 'content-length': '0' },
      expect: [202],
      what,
    });
    started.resume();
    const location = started.headers.location;
    if (!location) throw new OciError('protocol', `${what}: the registry gave no upload location`);
    const url = new URL(location, this.#baseUrl());
    url.searchParams.set('digest', blob.digest);
    const done = await this.call('PUT', url.toString(), {
      repository,
      push: true,
      headers: { 'content-type': 'application/octet-stream' },
      body: { length: blob.size, open: () => blob.open() },
      expect: [201],
      what,
    });
    done.resume();
  }

  /** Puts a manifest under `reference` (a tag); returns its digest. */
  async putManifest(repository: string, reference: string, mediaType: string, raw: Buffer): Promise<string> {
    const res = await this.call('PUT', `/v2/${repository}/manifests/${reference}`, {
      repository,
      push: true,
      headers: { 'content-type': mediaType },
      body: { length: raw.length, open: () => raw },
      expect: [201],
      what: `push manifest ${this.registry}/${repository}:${reference}`,
    });
    res.resume();
    return sha256(raw);
  }

  #baseUrl(): string {
    return `${this.#scheme ?? 'https'}://${this.registry}`;
  }

  /** Pings `/v2/` once: learns the scheme (HTTPS, or HTTP where allowed) and the authentication challenge. */
  async #connect(): Promise<void> {
    if (this.#scheme) return;
    const httpAllowed = this.options.insecure === true || isLocalRegistry(this.registry);
    let res: IncomingMessage;
    try {
      res = await this.send('GET', new URL(`https://${this.registry}/v2/`), {});
      this.#scheme = 'https';
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? '';
      if (!httpAllowed || !NOT_TLS.has(code)) throw this.networkError(error, `connect to ${this.registry}`);
      res = await this.send('GET', new URL(`http://${this.registry}/v2/`), {}).catch((e: unknown) => {
        throw this.networkError(e, `connect to ${this.registry}`);
      });
      this.#scheme = 'http';
    }
    res.resume();
    if (res.statusCode === 401) this.#challenge = parseAuthChallenge(header(res, 'www-authenticate'));
  }

  /** One API request with authentication; a 401 renews the authorization once (a new challenge or scope). */
  private async call(method: string, path: string, options: CallOptions): Promise<IncomingMessage> {
    await this.#connect();
    const url = new URL(path, this.#baseUrl());
    for (let attempt = 0; ; attempt++) {
      const authorization = await this.authorization(options);
      const headers: OutgoingHttpHeaders = {
        ...(authorization ? { authorization } : {}),
        ...(options.body ? { 'content-length': String(options.body.length) } : {}),
        ...options.headers,
      };
      const res = await this.send(method, url, headers, options.body).catch((error: unknown) => {
        throw this.networkError(error, options.what);
      });
      if (res.statusCode === 401 && attempt === 0) {
        res.resume();
        const challenge = parseAuthChallenge(header(res, 'www-authenticate'));
        if (challenge) {
          this.#challenge = challenge;
          this.#tokens.delete(scopeOf(options));
          continue;
        }
      }
      if (options.expect.includes(res.statusCode ?? 0)) return res;
      throw await this.statusError(res, options.what);
    }
  }

  /** Follows a blob redirect; credentials go along only to the registry itself. */
  private async redirect(url: URL, what: string): Promise<IncomingMessage> {
    const sameHost = url.host === this.registry;
    const authorization = sameHost ? await this.authorization({ what }) : undefined;
    const res = await this.send('GET', url, authorization ? { authorization } : {}).catch(
      (error: unknown) => {
        throw this.networkError(error, what);
      },
    );
    if (res.statusCode === 200 || isRedirect(res.statusCode)) return res;
    throw await this.statusError(res, what);
  }

  /** The Authorization header the current challenge asks for, if any. */
  private async authorization(
    options: Pick<CallOptions, 'repository' | 'push' | 'what'>,
  ): Promise<string | undefined> {
    const challenge = this.#challenge;
    const credentials = this.options.credentials;
    if (!challenge) return undefined;
    if (challenge.scheme === 'basic')
      return credentials
        ? `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`
        : undefined;
    if (challenge.scheme !== 'bearer') return undefined;
    const scope = scopeOf(options);
    const cached = this.#tokens.get(scope);
    if (cached) return `Bearer ${cached}`;
    const token = await this.fetchToken(challenge, scope, options.what);
    this.#tokens.set(scope, token);
    return `Bearer ${token}`;
  }

  /** A token from the Bearer challenge's realm for `scope`, with the credentials as Basic auth if any. */
  private async fetchToken(challenge: AuthChallenge, scope: string, what: string): Promise<string> {
    const realm = challenge.params.realm;
    if (!realm)
      throw new OciError('authentication', `${what}: the registry's Bearer challenge names no realm`);
    const url = new URL(realm);
    if (challenge.params.service) url.searchParams.set('service', challenge.params.service);
    if (scope) url.searchParams.set('scope', scope);
    const credentials = this.options.credentials;
    const headers: OutgoingHttpHeaders = credentials
      ? {
          authorization: `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`,
        }
      : {};
    const res = await this.send('GET', url, headers).catch((error: unknown) => {
      throw this.networkError(error, `get a token from ${url.host} to ${what}`);
    });
    if (res.statusCode !== 200) throw await this.statusError(res, `get a token from ${url.host} to ${what}`);
    const body = JSON.parse((await readBody(res, MANIFEST_LIMIT)).toString('utf8')) as {
      token?: string;
      access_token?: string;
    };
    const token = body.token ?? body.access_token;
    if (!token)
      throw new OciError(
        'authentication',
        `${what}: the token server at ${url.host} answered without a token`,
      );
    return token;
  }

  private agent(url: URL): Agent {
    const key = url.protocol + url.host;
    let agent = this.#agents.get(key);
    if (!agent) {
      const { ca, cert, key: tlsKey, insecure, proxyUrl } = this.options;
      agent = tunnelingAgent({
        secure: url.protocol === 'https:',
        ...(ca ? { ca } : {}),
        ...(cert && tlsKey ? { cert, key: tlsKey } : {}),
        ...(insecure && !ca ? { rejectUnauthorized: false } : {}),
        ...(proxyUrl ? { proxyUrl } : {}),
      });
      this.#agents.set(key, agent);
    }
    return agent;
  }

  private send(
    method: string,
    url: URL,
    headers: OutgoingHttpHeaders,
    body?: Body,
  ): Promise<IncomingMessage> {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = send(url, {
        method,
        agent: this.agent(url),
        headers: { 'user-agent': this.options.userAgent ?? 'kedge', ...headers },
        ...(this.options.signal ? { signal: this.options.signal } : {}),
      });
      req.once('response', resolve);
      req.once('error', reject);
      const content = body?.open();
      if (content === undefined || Buffer.isBuffer(content)) req.end(content);
      else {
        content.once('error', (error) => req.destroy(error));
        content.pipe(req);
      }
    });
  }

  private networkError(error: unknown, what: string): OciError {
    if (error instanceof OciError) return error;
    const e = error as NodeJS.ErrnoException;
    if (e.name === 'AbortError' || this.options.signal?.aborted)
      return new OciError('unreachable', `${what}: cancelled (timeout)`, undefined, { cause: error });
    const detail = e.code && !e.message.includes(e.code) ? `${e.code}: ${e.message}` : e.message;
    const hint = /certificate|self[- ]signed|CERT_/i.test(detail)
      ? " (trust the registry's CA with certSecretRef 'ca.crt')"
      : '';
    return new OciError('unreachable', `${what}: ${detail}${hint}`, undefined, { cause: error });
  }

  private async statusError(res: IncomingMessage, what: string): Promise<OciError> {
    const status = res.statusCode ?? 0;
    const text = registryErrorText(
      (await readBody(res, 64 * 1024).catch(() => Buffer.alloc(0))).toString('utf8'),
    );
    const kind: OciErrorKind =
      status === 401 || status === 403 ? 'authentication' : status === 404 ? 'not-found' : 'protocol';
    const hint =
      status === 401 && !this.options.credentials
        ? ' (the registry requires credentials)'
        : status === 401
          ? ' (the registry refused the credentials)'
          : '';
    return new OciError(kind, `${what}: HTTP ${status}${text ? ` ${text}` : ''}${hint}`, status);
  }
}

function scopeOf(options: Pick<CallOptions, 'repository' | 'push'>): string {
  return options.repository ? `repository:${options.repository}:${options.push ? 'pull,push' : 'pull'}` : '';
}

function isRedirect(status: number | undefined): boolean {
  return status === 301 || status === 302 || status === 303 || status === 307 || status === 308;
}

function header(res: IncomingMessage, name: string): string | undefined {
  const value = res.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** The response body, up to `limit` bytes. */
async function readBody(res: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      res.destroy();
      throw new OciError('protocol', `response larger than ${limit} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
