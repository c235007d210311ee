import http from 'node:http';
import https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { KubeApiError } from './errors.ts';

/** Options of one request. */
export interface KubeRequestOptions {
  query?: Record<string, string | undefined>;
  /** Serialized as JSON. */
  body?: unknown;
  /** Defaults to `application/json`; server-side apply uses `application/apply-patch+yaml`. */
  contentType?: string;
  signal?: AbortSignal;
}

/**
 * A raw JSON client for the Kubernetes API built from a KubeConfig (certificates, tokens, exec plugins and
 * impersonation as the KubeConfig defines them). Unlike the generated clients it sends and returns objects
 * exactly as given: no field is dropped or renamed (e.g. `x-kubernetes-*` in CRD schemas), no timestamp
 * turned into a Date. Call `close()` to release its pooled connections.
 */
export class KubeRest {
  readonly server: string;
  #agent: http.Agent | undefined;

  constructor(readonly kubeConfig: KubeConfig) {
    const cluster = kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster');
    this.server = cluster.server.replace(/\/+$/, '');
  }

  /** Sends one request; resolves the parsed JSON body; rejects with KubeApiError on a non-2xx answer. */
  async request<T = unknown>(method: string, path: string, options: KubeRequestOptions = {}): Promise<T> {
    const url = new URL(this.server + path);
    for (const [key, value] of Object.entries(options.query ?? {})) if (value !== undefined) url.searchParams.set(key, value);
    const opts: https.RequestOptions = { method, headers: {} };
    await this.kubeConfig.applyToHTTPSOptions(opts);
    // Reuse one agent (its TLS settings never change) so requests share keep-alive connections.
    this.#agent ??= this.#makeAgent(url, opts);
    const headers: Record<string, string> = { Accept: 'application/json' };
    for (const [key, value] of Object.entries(opts.headers ?? {})) if (value !== undefined) headers[key] = String(value);
    if (opts.auth) headers.Authorization = `Basic ${Buffer.from(opts.auth).toString('base64')}`;
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
    if (payload !== undefined) {
      headers['Content-Type'] = options.contentType ?? 'application/json';
      headers['Content-Length'] = String(Buffer.byteLength(payload));
    }
    const what = `${method} ${url.pathname}`;
    const { status, text } = await this.#send(url, method, headers, payload, options.signal, what);
    if (status >= 200 && status < 300) return (text === '' ? {} : JSON.parse(text)) as T;
    throw apiError(status, text, what);
  }

  /** Destroys pooled sockets. Requests in flight fail. */
  close(): void {
    this.#agent?.destroy();
    this.#agent = undefined;
  }

  #makeAgent(url: URL, opts: https.RequestOptions): http.Agent {
    const base = opts.agent instanceof https.Agent ? opts.agent.options : {};
    if (opts.agent instanceof http.Agent) opts.agent.destroy();
    return url.protocol === 'https:' ? new https.Agent({ ...base, keepAlive: true }) : new http.Agent({ keepAlive: true });
  }

  #send(url: URL, method: string, headers: Record<string, string>, payload: string | undefined, signal: AbortSignal | undefined, what: string): Promise<{ status: number; text: string }> {
    const lib = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = lib.request(url, { method, headers, agent: this.#agent, signal }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('error', (error) => reject(signal?.aborted ? error : new KubeApiError(0, 'ConnectionFailed', `${what}: ${error.message}`, [], { cause: error })));
      req.end(payload);
    });
  }
}

function apiError(status: number, text: string, what: string): KubeApiError {
  try {
    const body = JSON.parse(text) as { message?: string; reason?: string; details?: { causes?: { message?: string; field?: string }[] } };
    const causes = (body.details?.causes ?? []).map((c) => [c.field, c.message].filter(Boolean).join(': '));
    return new KubeApiError(status, body.reason ?? '', body.message ?? `${what}: HTTP ${status}`, causes);
  } catch {
    return new KubeApiError(status, '', `${what}: HTTP ${status}: ${text.slice(0, 200)}`);
  }
}
