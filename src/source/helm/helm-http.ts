import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';

/** Credentials and TLS material for a chart repository, from the HelmRepository's Secrets. */
export interface RepositoryAccess {
  basicAuth?: { username: string; password: string };
  /** PEM: CA to trust, client certificate and key (mutual TLS). */
  ca?: string;
  cert?: string;
  key?: string;
}

/** A failed request to a chart repository; the message never carries credentials. */
export class HelmHttpError extends Error {
  override readonly name = 'HelmHttpError';
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }

  /** The server refused the credentials (or asked for some). */
  get isAuthentication(): boolean {
    return this.status === 401 || this.status === 403;
  }
}

/** Flux's (and Helm's) cap on an index file; charts get the same. */
export const MAX_DOWNLOAD_BYTES = 50 * 1024 * 1024;

/**
 * GETs `url` and returns the body. Basic auth is sent only when `sendAuth` (the URL's host is the repository's,
 * or `passCredentials`); redirects are followed up to 10 times, keeping the auth decision of the first URL's
 * host as Helm does.
 */
export async function httpGet(
  url: string,
  access: RepositoryAccess,
  options: { sendAuth: boolean; signal: AbortSignal; maxBytes?: number },
): Promise<Buffer> {
  let current = new URL(url);
  for (let hop = 0; hop < 10; hop++) {
    const response = await send(current, access, options);
    const status = response.statusCode ?? 0;
    if (status >= 300 && status < 400 && response.headers.location) {
      response.resume();
      current = new URL(response.headers.location, current);
      continue;
    }
    if (status !== 200) {
      response.resume();
      throw new HelmHttpError(
        `GET ${scrub(current)}: ${status} ${response.statusMessage ?? ''}`.trim(),
        status,
      );
    }
    return readBody(response, current, options.maxBytes ?? MAX_DOWNLOAD_BYTES);
  }
  throw new HelmHttpError(`GET ${scrub(new URL(url))}: too many redirects`);
}

function send(
  url: URL,
  access: RepositoryAccess,
  options: { sendAuth: boolean; signal: AbortSignal },
): Promise<IncomingMessage> {
  const headers: Record<string, string> = { 'User-Agent': 'kedge (Helm compatible)' };
  if (options.sendAuth && access.basicAuth) {
    const { username, password } = access.basicAuth;
    headers['Authorization'] = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
  }
  const requestOptions = {
    method: 'GET',
    headers,
    signal: options.signal,
    ...(url.protocol === 'https:' ? { ca: access.ca, cert: access.cert, key: access.key } : {}),
  };
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(url, requestOptions, resolve);
    req.once('error', (error) =>
      reject(
        options.signal.aborted
          ? error
          : new HelmHttpError(`GET ${scrub(url)}: ${error.message.replace(/https?:\/\/[^\s]*@/g, '')}`),
      ),
    );
    req.end();
  });
}

function readBody(response: IncomingMessage, url: URL, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    response.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        response.destroy();
        reject(
          new HelmHttpError(`GET ${scrub(url)}: response exceeds the maximum size of ${maxBytes} bytes`),
        );
        return;
      }
      chunks.push(chunk);
    });
    response.once('end', () => resolve(Buffer.concat(chunks)));
    response.once('error', reject);
  });
}

/** The URL without user info, query or fragment (they may carry tokens). */
export function scrub(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
}
