import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { parse } from 'yaml';

/** `apiserver_request_total` summed per `VERB resource[/subresource][ (dry-run)]` (non-resource URLs under `VERB `). */
export type RequestCounts = Map<string, number>;

/** One reading; `scrape` numbers the readings (a reading's own GET is counted by the server after it answers). */
export interface Snapshot {
  counts: RequestCounts;
  scrape: number;
}

/**
 * The bench's own client of the API server: HTTPS with the kubeconfig's admin client certificate, one request
 * per call (no client library: every request the bench sends is known and left out of the tools' counts).
 */
export class ApiServer {
  private readonly server: URL;
  private readonly tls: { ca: Buffer; cert: Buffer; key: Buffer };
  /** Scrapes of `/metrics` made so far: each is one `GET ` (non-resource) request the server counts. */
  scrapes = 0;

  constructor(kubeconfigPath: string) {
    type Kubeconfig = {
      clusters: { cluster: { server: string; 'certificate-authority-data': string } }[];
      users: { user: { 'client-certificate-data': string; 'client-key-data': string } }[];
    };
    const config = parse(readFileSync(kubeconfigPath, 'utf8')) as Kubeconfig;
    const cluster = config.clusters[0]!.cluster;
    const user = config.users[0]!.user;
    const b64 = (s: string) => Buffer.from(s, 'base64');
    this.server = new URL(cluster.server);
    this.tls = {
      ca: b64(cluster['certificate-authority-data']),
      cert: b64(user['client-certificate-data']),
      key: b64(user['client-key-data']),
    };
  }

  /** One request; resolves with the body, rejects on a status other than 2xx. */
  request(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<string> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = { accept: 'application/json' };
      const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
      if (payload !== undefined) headers['content-type'] = contentType;
      const req = request(
        {
          host: this.server.hostname,
          port: this.server.port,
          path,
          method,
          headers,
          ...this.tls,
          agent: false,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString();
            const code = res.statusCode ?? 0;
            if (code >= 200 && code < 300) resolve(text);
            else reject(new Error(`${method} ${path}: HTTP ${code} ${text.slice(0, 300)}`));
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** A watch stream (`?watch=1`): calls `onEvent` with each event's object; returns a function that ends it. */
  watch(path: string, onEvent: (type: string, object: Record<string, unknown>) => void): () => void {
    const req = request(
      { host: this.server.hostname, port: this.server.port, path, method: 'GET', ...this.tls, agent: false },
      (res) => {
        let buffer = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buffer += chunk;
          for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
            const line = buffer.slice(0, nl);
            buffer = buffer.slice(nl + 1);
            if (!line.trim()) continue;
            const event = JSON.parse(line) as { type: string; object: Record<string, unknown> };
            onEvent(event.type, event.object);
          }
        });
        res.on('error', () => undefined);
      },
    );
    req.on('error', () => undefined);
    req.end();
    return () => req.destroy();
  }

  private async metricsText(): Promise<string> {
    this.scrapes++;
    return this.request('GET', '/metrics');
  }

  async snapshot(): Promise<Snapshot> {
    const scrape = this.scrapes;
    const counts: RequestCounts = new Map();
    for (const line of (await this.metricsText()).split('\n')) {
      if (!line.startsWith('apiserver_request_total{')) continue;
      const label = (name: string) => new RegExp(`[{,]${name}="([^"]*)"`).exec(line)?.[1] ?? '';
      const sub = label('subresource');
      const dryRun = label('dry_run') ? ' (dry-run)' : '';
      const key = `${label('verb')} ${label('resource')}${sub ? `/${sub}` : ''}${dryRun}`;
      counts.set(key, (counts.get(key) ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1)));
    }
    return { counts, scrape };
  }
}

/**
 * Requests between two readings, per group, without the metrics reads themselves (each counted under `GET `)
 * and without `exclude` (requests the bench itself sent, by group).
 */
export function requestDelta(
  before: Snapshot,
  after: Snapshot,
  exclude: Record<string, number> = {},
): { total: number; groups: [string, number][] } {
  const groups: [string, number][] = [];
  for (const [key, n] of after.counts) {
    let d = n - (before.counts.get(key) ?? 0);
    if (key === 'GET ') d -= after.scrape - before.scrape;
    d -= exclude[key] ?? 0;
    if (d > 0) groups.push([key, d]);
  }
  groups.sort((a, b) => b[1] - a[1]);
  return { total: groups.reduce((a, [, n]) => a + n, 0), groups };
}

/** `VERB resource n, …` of the largest groups. */
export const topGroups = (groups: [string, number][], count = 6, scale = 1): string =>
  groups
    .slice(0, count)
    .map(([key, n]) => `${key.trim()} ${Number.isInteger(n * scale) ? n * scale : (n * scale).toFixed(1)}`)
    .join(', ');
