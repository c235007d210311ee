import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { isIP, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { Duplex } from 'node:stream';

export interface TunnelingAgentOptions {
  /** TLS to the server (https). */
  secure: boolean;
  /** PEM CA bundle to trust for the server's certificate. */
  ca?: string;
  /** PEM client certificate and key to present (mutual TLS). */
  cert?: string;
  key?: string;
  /** Accept any server certificate (an OCIRepository's `insecure` without a CA, as Flux allows). Default true. */
  rejectUnauthorized?: boolean;
  /** `http://[user:pass@]host:port`; without it, connections go straight to the server. */
  proxyUrl?: string;
}

type ConnectOptions = {
  host?: string | null;
  hostname?: string | null;
  port?: number | string | null;
  servername?: string;
};
type Callback = (error: Error | null, socket?: Duplex) => void;

/**
 * A keep-alive agent for one server that trusts `ca` and, given a proxy, reaches the server through an HTTP
 * CONNECT tunnel (for plain HTTP too, so the request line stays the server's own).
 */
export function tunnelingAgent(options: TunnelingAgentOptions): HttpAgent {
  const tlsOptions = {
    ...(options.ca ? { ca: options.ca } : {}),
    ...(options.cert && options.key ? { cert: options.cert, key: options.key } : {}),
    ...(options.rejectUnauthorized === false ? { rejectUnauthorized: false } : {}),
  };
  const agent = options.secure
    ? new HttpsAgent({ keepAlive: true, ...tlsOptions })
    : new HttpAgent({ keepAlive: true });
  if (!options.proxyUrl) return agent;
  const proxy = new URL(options.proxyUrl);
  const connectThrough = (target: ConnectOptions, callback: Callback): void => {
    const host = String(target.hostname ?? target.host ?? 'localhost');
    const authority = `${host.includes(':') ? `[${host}]` : host}:${target.port ?? (options.secure ? 443 : 80)}`;
    const req = httpRequest({
      host: proxy.hostname.replace(/^\[|\]$/g, ''),
      port: proxy.port || 80,
      method: 'CONNECT',
      path: authority,
      headers: { host: authority, ...proxyAuthorization(proxy) },
    });
    req.once('connect', (res, socket: Socket) => {
      if (res.statusCode !== 200) {
        socket.destroy();
        callback(new Error(`proxy refused the tunnel to ${authority} with status ${res.statusCode}`));
        return;
      }
      if (!options.secure) {
        callback(null, socket);
        return;
      }
      // `host` is what the certificate is checked against; SNI only for names, never for IP addresses.
      const tls = tlsConnect({
        socket,
        host,
        ...(isIP(host) ? {} : { servername: target.servername || host }),
        ...tlsOptions,
      });
      tls.once('secureConnect', () => callback(null, tls));
      tls.once('error', (error: Error) => callback(error));
    });
    req.once('error', (error) =>
      callback(
        new Error(
          `proxy ${proxy.host} unreachable: ${(error as NodeJS.ErrnoException).code ?? error.message}`,
        ),
      ),
    );
    req.end();
  };
  // Node asks the agent for a socket through createConnection; a callback form lets us open the tunnel first.
  (
    agent as unknown as { createConnection: (o: ConnectOptions, cb: Callback) => undefined }
  ).createConnection = (o, cb) => {
    connectThrough(o, cb);
    return undefined;
  };
  return agent;
}

function proxyAuthorization(proxy: URL): Record<string, string> {
  if (!proxy.username) return {};
  const credentials = `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`;
  return { 'proxy-authorization': `Basic ${Buffer.from(credentials).toString('base64')}` };
}
