import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders } from 'node:http';

/** Hop-by-hop fields (RFC 9110 §7.6.1): they describe one connection and are never forwarded. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/**
 * The end-to-end fields of `rawHeaders` (name/value pairs as received), lowercased, repeated fields as
 * arrays. Dropped: hop-by-hop fields, every `Proxy-*` field, and every field the `Connection` field names.
 */
export function endToEndHeaders(rawHeaders: readonly string[]): Record<string, string | string[]> {
  const listed = new Set<string>();
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.toLowerCase() !== 'connection') continue;
    for (const token of rawHeaders[i + 1]!.split(',')) listed.add(token.trim().toLowerCase());
  }
  const out: Record<string, string | string[]> = {};
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    const value = rawHeaders[i + 1]!;
    if (HOP_BY_HOP.has(name) || name.startsWith('proxy-') || listed.has(name)) continue;
    const seen = out[name];
    out[name] = seen === undefined ? value : Array.isArray(seen) ? [...seen, value] : [seen, value];
  }
  return out;
}

/**
 * The fields to send a backend for client request `req`: its end-to-end fields plus `X-Forwarded-For`
 * (the client address appended to any list the client sent), `X-Forwarded-Proto` and `X-Forwarded-Host`
 * (kept when a proxy in front already set them). `Expect` is dropped (the proxy answered `100 Continue`
 * itself); a body without `Content-Length` is sent chunked again on the new hop.
 */
export function requestHeadersFor(req: IncomingMessage): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = endToEndHeaders(req.rawHeaders);
  delete headers.expect;
  const client = req.socket.remoteAddress ?? '127.0.0.1';
  const forwardedFor = joined(req.headers['x-forwarded-for']);
  headers['x-forwarded-for'] = forwardedFor ? `${forwardedFor}, ${client}` : client;
  headers['x-forwarded-proto'] = joined(req.headers['x-forwarded-proto']) || 'http';
  const host = joined(req.headers['x-forwarded-host']) || req.headers.host;
  if (host) headers['x-forwarded-host'] = host;
  if (req.headers['transfer-encoding'] !== undefined && req.headers['content-length'] === undefined)
    headers['transfer-encoding'] = 'chunked';
  return headers;
}

function joined(value: IncomingHttpHeaders[string]): string {
  return Array.isArray(value) ? value.join(', ') : (value ?? '');
}
