import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { httpUrl, type ListenAddress } from './listen-address.ts';

export interface HealthServer {
  url: string;
  close(): Promise<void>;
}

/** What `/readyz` answers: 200 with `detail` when ready, else 503 with it. */
export interface Readiness {
  ready: boolean;
  detail: string;
}

/**
 * Serves `/metrics` (Prometheus text format), `/healthz` (the process is alive) and `/readyz` (the engine
 * has started its controllers, or with leader election: leads or follows), as Flux's controllers do on their
 * metrics and health ports.
 */
export async function startHealthServer(address: ListenAddress, registry: Registry, isReady: () => boolean | Readiness): Promise<HealthServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
    } else if (path === '/metrics') {
      registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
        (error: unknown) => res.writeHead(500).end(String(error)),
      );
    } else if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    } else if (path === '/readyz') {
      const answer = isReady();
      const { ready, detail } = typeof answer === 'boolean' ? { ready: answer, detail: answer ? 'ok' : 'starting' } : answer;
      res.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' }).end(detail);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(address.port, address.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: httpUrl(address.host, port),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
