import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEngine, type Engine } from '../src/engine.ts';
import { createLogger } from '../src/runtime/logger.ts';
import type { KObject } from '../src/api/meta.ts';

/** One request a test endpoint received. */
export interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  json(): unknown;
}

/** What the endpoint answers to its n-th request (0-based): a status code (body `{}`), a status and body, or `hang` (never answer). */
export type Respond = (request: ReceivedRequest, index: number) => number | { status: number; body: string } | 'hang';

/** A real HTTP endpoint on 127.0.0.1 recording every request, for providers to post to. */
export interface TestEndpoint {
  url: string;
  requests: ReceivedRequest[];
  /** Requests answered so far (hanging ones are not). */
  answered: number;
  stop(): Promise<void>;
}

/** Serve HTTPS with this key and certificate instead of HTTP. */
export interface EndpointTls {
  key: string;
  cert: string;
}

export async function startEndpoint(respond: Respond = () => 200, tls?: EndpointTls): Promise<TestEndpoint> {
  const hanging: ServerResponse[] = [];
  const endpoint: TestEndpoint = { url: '', requests: [], answered: 0, stop: () => Promise.resolve() };
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const request: ReceivedRequest = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body, json: (): unknown => JSON.parse(body) as unknown };
      const index = endpoint.requests.push(request) - 1;
      const answer = respond(request, index);
      if (answer === 'hang') {
        hanging.push(res);
        return;
      }
      endpoint.answered++;
      const { status, body: text } = typeof answer === 'number' ? { status: answer, body: '{}' } : answer;
      res.writeHead(status, { 'content-type': 'application/json' }).end(text);
    });
  };
  const server: Server = tls ? createHttpsServer(tls, handler) : createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint.url = `${tls ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}`;
  endpoint.stop = () =>
    new Promise((resolve) => {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return endpoint;
}

/** An engine on a temp data dir with every port chosen by the kernel; `dispose` stops it and removes the dir. */
export async function startTestEngine(): Promise<{ engine: Engine; dispose: () => Promise<void> }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'kedge-notify-'));
  const any = { host: '127.0.0.1', port: 0 };
  const engine = await startEngine({
    dataDir,
    storageAddress: any,
    metricsAddress: any,
    receiverAddress: any,
    log: createLogger({ level: process.env.KEDGE_TEST_LOG ?? 'silent', format: 'json' }),
    shutdownGraceMs: 2000,
  });
  return {
    engine,
    async dispose() {
      await engine.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Manifest builders for the notification kinds and their inputs. */
export const manifests = {
  secret: (name: string, stringData: Record<string, string>): KObject => ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace: 'default' },
    stringData,
  }),
  gitRepository: (name: string, url: string, interval = '1h'): KObject => ({
    apiVersion: 'source.toolkit.fluxcd.io/v1',
    kind: 'GitRepository',
    metadata: { name, namespace: 'default' },
    spec: { url, interval, ref: { branch: 'main' } },
  }),
  provider: (name: string, spec: Record<string, unknown>): KObject => ({
    apiVersion: 'notification.toolkit.fluxcd.io/v1beta3',
    kind: 'Provider',
    metadata: { name, namespace: 'default' },
    spec,
  }),
  alert: (name: string, provider: string, spec: Record<string, unknown> = {}): KObject => ({
    apiVersion: 'notification.toolkit.fluxcd.io/v1beta3',
    kind: 'Alert',
    metadata: { name, namespace: 'default' },
    spec: { providerRef: { name: provider }, eventSources: [{ kind: 'GitRepository', name: '*' }], ...spec },
  }),
  receiver: (name: string, spec: Record<string, unknown>): KObject => ({
    apiVersion: 'notification.toolkit.fluxcd.io/v1',
    kind: 'Receiver',
    metadata: { name, namespace: 'default' },
    spec,
  }),
};
