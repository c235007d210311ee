import { request } from 'node:https';

/** PEM material for mutual TLS with kube-apiserver. */
export interface ClientCredentials {
  ca: string;
  cert: string;
  key: string;
}

/**
 * One HTTPS GET with client-certificate authentication; resolves with the status code and body,
 * rejects on connection errors or after `timeoutMs` (default 5 s).
 */
export async function httpsGet(
  url: string,
  credentials: ClientCredentials,
  timeoutMs = 5_000,
): Promise<{ status: number; body: string }> {
  return httpsRequest('GET', url, credentials, { timeoutMs });
}

/**
 * One HTTPS request with client-certificate authentication and an optional JSON body; resolves with the
 * status code and body (any status), rejects on connection errors or after `timeoutMs` (default 5 s).
 */
export async function httpsRequest(
  method: string,
  url: string,
  credentials: ClientCredentials,
  { body, timeoutMs = 5_000 }: { body?: unknown; timeoutMs?: number } = {},
): Promise<{ status: number; body: string }> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const headers =
    payload === undefined
      ? {}
      : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) };
  return new Promise((resolve, reject) => {
    const req = request(url, { ...credentials, method, headers, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url} timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}
