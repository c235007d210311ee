import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ObjectRef } from '../../api/meta.ts';
import type { EventRecorder } from '../../runtime/event-recorder.ts';
import type { Store } from '../../store/store.ts';
import { httpUrl, type ListenAddress } from '../listen-address.ts';
import { streamAppLogs } from './app-log-stream.ts';
import { ActionRefused, dashboardActions, runAction, type DashboardAction } from './dashboard-actions.ts';
import { loadDashboardAssets, type Asset } from './dashboard-assets.ts';
import { LiveStream } from './live-stream.ts';
import { detail, historyView, scrubEvent, summarize } from './object-view.ts';
import { generateWebToken, isLoopbackHost, TokenCookie, WebAccess } from './web-access.ts';

export interface DashboardSettings {
  address: ListenAddress;
  /** Required off loopback; one is generated (and returned) when absent there. */
  token?: string;
  store: Store;
  /** The kinds the engine reconciles: the only ones served (never Secrets or ConfigMaps). */
  kinds: readonly string[];
  events?: EventRecorder;
  /** For App replica logs. */
  dataDir: string;
}

export interface DashboardServer {
  url: string;
  /** The token requests need, when there is one (generated off loopback when none was given). */
  token?: string;
  /** Open live streams (dashboards), for the benchmark. */
  liveClients(): number;
  close(): Promise<void>;
}

const MAX_BODY = 64 * 1024;

/**
 * The dashboard: a single-page app and its JSON API on `--web-addr`, reading and acting only through the
 * store (the same in standalone and operator mode). Reads: `/api/objects`, `/api/objects/Kind/ns/name` (with
 * events), `/api/stream` (server-sent live changes), `/api/logs/ns/app`. Mutations: `POST /api/actions/<action>`
 * with `{kind, namespace, name}`. Access rules in {@link WebAccess}.
 */
export async function startDashboardServer(settings: DashboardSettings): Promise<DashboardServer> {
  const loopback = isLoopbackHost(settings.address.host);
  const token = settings.token ?? (loopback ? undefined : generateWebToken());
  const access = new WebAccess(token, loopback);
  const kinds = new Set(settings.kinds);
  const assets = await loadDashboardAssets();
  const live = new LiveStream(settings.store, kinds, settings.events);
  const handler = new Handler(settings, kinds, access, assets, live);
  const server: Server = createServer((req, res) => {
    handler
      .handle(req, res)
      .catch((error: unknown) =>
        send(res, 500, { error: error instanceof Error ? error.message : String(error) }),
      );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) => {
      live.close();
      reject(error);
    });
    server.listen(settings.address.port, settings.address.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: httpUrl(settings.address.host, port),
    token,
    liveClients: () => live.clientCount,
    close: () =>
      new Promise((resolve) => {
        live.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

class Handler {
  constructor(
    private readonly settings: DashboardSettings,
    private readonly kinds: ReadonlySet<string>,
    private readonly access: WebAccess,
    private readonly assets: Map<string, Asset>,
    private readonly live: LiveStream,
  ) {}

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://dashboard');
    const path = url.pathname;
    const given = url.searchParams.get('token');
    if (req.method === 'GET' && path === '/' && given !== null) return this.login(res, given);
    if (req.method === 'POST') {
      const refused = this.access.checkWrite(req);
      if (refused) return send(res, refused.status, { error: refused.message });
      const action = /^\/api\/actions\/([a-z]+)$/.exec(path)?.[1];
      if (!action || !dashboardActions.includes(action as DashboardAction))
        return send(res, 404, { error: `no action at ${path}` });
      return this.act(req, res, action as DashboardAction);
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, { error: 'method not allowed' });
    const refused = this.access.checkRead(req);
    if (refused) return send(res, refused.status, { error: refused.message });
    const asset = this.assets.get(path) ?? (path.startsWith('/api/') ? undefined : this.assets.get('/'));
    if (asset) return sendAsset(req, res, asset);
    if (path === '/api/objects')
      return send(res, 200, { kinds: [...this.kinds], objects: (await this.listAll()).map(summarize) });
    if (path === '/api/stream') return this.live.attach(res);
    const object = /^\/api\/objects\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(path);
    if (object)
      return this.objectPage(res, { kind: dec(object[1]), namespace: dec(object[2]), name: dec(object[3]) });
    const logs = /^\/api\/logs\/([^/]+)\/([^/]+)$/.exec(path);
    if (logs) return streamAppLogs(res, this.settings.dataDir, dec(logs[1]), dec(logs[2]));
    return send(res, 404, { error: `nothing at ${path}` });
  }

  private async listAll() {
    return (await Promise.all([...this.kinds].map((kind) => this.settings.store.list(kind)))).flat();
  }

  private async objectPage(res: ServerResponse, ref: ObjectRef): Promise<void> {
    const object = this.kinds.has(ref.kind) ? await this.settings.store.get(ref) : undefined;
    if (!object) return send(res, 404, { error: `${ref.kind} '${ref.namespace}/${ref.name}' not found` });
    const [events, history] = await Promise.all([
      this.settings.store.listEvents({ ...ref, limit: 50 }),
      this.settings.store.listHistory(ref, 50),
    ]);
    send(res, 200, { ...detail(object), events: events.map(scrubEvent), history: history.map(historyView) });
  }

  private async act(req: IncomingMessage, res: ServerResponse, action: DashboardAction): Promise<void> {
    const body = await readJson(req);
    const ref = {
      kind: text(body.kind, ''),
      namespace: text(body.namespace, 'default'),
      name: text(body.name, ''),
    };
    if (!this.kinds.has(ref.kind) || !ref.name)
      return send(res, 400, {
        error: `give the kind (one of ${[...this.kinds].join(', ')}), namespace and name`,
      });
    try {
      const to = typeof body.to === 'string' ? body.to : undefined;
      send(res, 200, { action, ...ref, ...(await runAction(this.settings.store, action, ref, { to })) });
    } catch (error) {
      if (error instanceof ActionRefused) return send(res, error.status, { error: error.message });
      throw error;
    }
  }

  /** `/?token=…`: keep the token in an HttpOnly cookie and drop it from the address bar. */
  private login(res: ServerResponse, given: string): void {
    if (!this.access.matches(given)) return send(res, 401, { error: 'wrong token' });
    res
      .writeHead(303, {
        location: '/',
        'set-cookie': `${TokenCookie}=${encodeURIComponent(given)}; HttpOnly; SameSite=Strict; Path=/`,
      })
      .end();
  }
}

/** A string field of a request body, else `fallback`. */
function text(value: unknown, fallback: string): string {
  return typeof value === 'string' ? value : fallback;
}

function dec(part: string | undefined): string {
  return decodeURIComponent(part ?? '');
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new Error('request body too large');
    chunks.push(chunk);
  }
  try {
    const value: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
    return value && typeof value === 'object' ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return void res.end();
  res
    .writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    })
    .end(JSON.stringify(body));
}

function sendAsset(req: IncomingMessage, res: ServerResponse, asset: Asset): void {
  const headers = {
    'content-type': asset.contentType,
    etag: asset.etag,
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'content-security-policy':
      "default-src 'self'; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
    'referrer-policy': 'no-referrer',
  };
  if (req.headers['if-none-match'] === asset.etag) return void res.writeHead(304, headers).end();
  res.writeHead(200, headers).end(req.method === 'HEAD' ? undefined : asset.body);
}
