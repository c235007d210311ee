import { request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { DeliveryError } from './delivery-error.ts';
import { scrubUrl } from './scrub-url.ts';

/** How one notification request is sent. */
export interface PostOptions {
  /** Default POST; Matrix sends with PUT, commit-status providers read existing statuses with GET, comment providers edit with PATCH or PUT. */
  method?: 'POST' | 'PUT' | 'PATCH' | 'GET';
  headers?: Record<string, string>;
  /** The whole request, connect to last byte. */
  timeoutMs: number;
  /** PEM CA bundle to trust for https addresses (Provider certSecretRef `ca.crt`). */
  ca?: string;
  /** `http://[user:pass@]host:port` proxy; https targets are tunnelled with CONNECT. */
  proxyUrl?: string;
  signal?: AbortSignal;
}

/** The answer to a successful (2xx) post. */
export interface PostResponse {
  statusCode: number;
  body: string;
}

const MAX_RESPONSE_BYTES = 64 * 1024;

/**
 * POSTs `body` to `url` (or sends it with `options.method`). Resolves on 2xx; otherwise throws {@link DeliveryError}, retryable for network
 * errors, timeouts, 429 and 5xx. Errors name the address only by scheme and host.
 */
export async function postHttp(url: string, body: string | Buffer, options: PostOptions): Promise<PostResponse> {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    throw new DeliveryError('invalid address: not a URL', false);
  }
  if (target.protocol !== 'http:' && target.protocol !== 'https:') {
    throw new DeliveryError(`invalid address ${scrubUrl(url)}: must be http(s)`, false);
  }
  const where = scrubUrl(url);
  const method = options.method ?? 'POST';
  const timeout = AbortSignal.timeout(options.timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  const payload = typeof body === 'string' ? Buffer.from(body) : body;
  const headers = { 'content-length': String(payload.length), ...options.headers };
  try {
    const response = await send(target, payload, headers, options, signal);
    const text = await readBody(response);
    const status = response.statusCode ?? 0;
    if (status >= 200 && status < 300) return { statusCode: status, body: text };
    const retryable = status >= 500 || status === 429;
    throw new DeliveryError(`${method} ${where} failed with status ${status}`, retryable, status);
  } catch (error) {
    if (error instanceof DeliveryError) throw error;
    if (timeout.aborted) throw new DeliveryError(`${method} ${where} timed out after ${options.timeoutMs} ms`, true, undefined, { cause: error });
    if (options.signal?.aborted) throw new DeliveryError(`${method} ${where} cancelled`, false, undefined, { cause: error });
    const code = (error as NodeJS.ErrnoException).code ?? 'network error';
    throw new DeliveryError(`${method} ${where} failed: ${code}`, true, undefined, { cause: error });
  }
}

async function send(
  target: URL,
  payload: Buffer,
  headers: Record<string, string>,
  options: PostOptions,
  signal: AbortSignal,
): Promise<IncomingMessage> {
  const https = target.protocol === 'https:';
  const base: RequestOptions = { method: options.method ?? 'POST', headers, signal };
  let request: RequestOptions & { ca?: string; servername?: string };
  if (options.proxyUrl && !https) {
    const proxy = new URL(options.proxyUrl);
    request = { ...base, host: proxy.hostname, port: proxy.port || 80, path: target.href, headers: { ...headers, host: target.host, ...proxyAuth(proxy) } };
  } else {
    request = { ...base, host: target.hostname.replace(/^\[|\]$/g, ''), port: target.port || (https ? 443 : 80), path: `${target.pathname}${target.search}` };
    if (https) {
      // SNI carries host names only (RFC 6066), never an IP address.
      const servername = isIP(request.host as string) ? undefined : target.hostname;
      if (servername) request.servername = servername;
      if (options.ca) request.ca = options.ca;
      if (options.proxyUrl) {
        const socket = await tunnel(new URL(options.proxyUrl), target, signal);
        const tls = tlsConnect({ socket, ...(servername ? { servername } : {}), ...(options.ca ? { ca: options.ca } : {}) });
        request.createConnection = () => tls;
      }
    }
  }
  return new Promise((resolve, reject) => {
    const req = (https ? httpsRequest : httpRequest)(request, resolve);
    req.on('error', reject);
    req.end(payload);
  });
}

function proxyAuth(proxy: URL): Record<string, string> {
  if (!proxy.username) return {};
  const credentials = `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`;
  return { 'proxy-authorization': `Basic ${Buffer.from(credentials).toString('base64')}` };
}

/** Opens a CONNECT tunnel through an http proxy to the target's host and port. */
function tunnel(proxy: URL, target: URL, signal: AbortSignal): Promise<import('node:net').Socket> {
  const authority = `${target.hostname}:${target.port || 443}`;
  return new Promise((resolve, reject) => {
    const req = httpRequest({
      host: proxy.hostname,
      port: proxy.port || 80,
      method: 'CONNECT',
      path: authority,
      headers: { host: authority, ...proxyAuth(proxy) },
      signal,
    });
    req.on('connect', (res, socket) => {
      if (res.statusCode === 200) resolve(socket);
      else {
        socket.destroy();
        reject(new DeliveryError(`proxy refused the tunnel with status ${res.statusCode}`, true, res.statusCode));
      }
    });
    req.on('error', reject);
    req.end();
  });
}

function readBody(response: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    response.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_RESPONSE_BYTES) chunks.push(chunk);
    });
    response.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    response.on('error', reject);
  });
}
