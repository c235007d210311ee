import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join, normalize } from 'node:path';
import { locateHelm } from '../../src/helm/helm-binary.ts';
import { generateClientCertificate, generateTlsPki } from './git-servers.ts';
import { execFileTracked } from './tracked-process.ts';

/*
 * A real Helm chart repository: a directory of charts packaged by `helm package`, indexed by `helm repo index`,
 * served as static files over HTTP(S) on 127.0.0.1 — which is all a chart repository is.
 */

/** A test chart: Chart.yaml, values.yaml and one ConfigMap template. */
export interface TestChartOptions {
  name: string;
  version: string;
  /** Extra values merged into the default `values.yaml` (`greeting: hello`). */
  values?: Record<string, unknown>;
  /** Chart.yaml `dependencies` entries, e.g. `{name, version, repository}`. */
  dependencies?: Array<{ name: string; version: string; repository: string }>;
  /** More files, path relative to the chart directory → content. */
  files?: Record<string, string>;
}

/** Writes a small chart into `<parent>/<name>` and returns that directory. */
export function writeTestChart(parent: string, options: TestChartOptions): string {
  const dir = join(parent, options.name);
  mkdirSync(join(dir, 'templates'), { recursive: true });
  const deps = options.dependencies?.length
    ? `dependencies:\n${options.dependencies
        .map((d) => `  - name: ${d.name}\n    version: "${d.version}"\n    repository: "${d.repository}"\n`)
        .join('')}`
    : '';
  writeFileSync(
    join(dir, 'Chart.yaml'),
    `apiVersion: v2\nname: ${options.name}\nversion: ${options.version}\nappVersion: "${options.version}"\n` +
      `description: kedge test chart\ntype: application\n${deps}`,
  );
  const values = { greeting: 'hello', ...options.values };
  writeFileSync(join(dir, 'values.yaml'), `${JSON.stringify(values, null, 2)}\n`);
  writeFileSync(
    join(dir, 'templates', 'configmap.yaml'),
    [
      'apiVersion: v1',
      'kind: ConfigMap',
      'metadata:',
      '  name: {{ .Release.Name }}-{{ .Chart.Name }}',
      'data:',
      '  chartVersion: {{ .Chart.Version | quote }}',
      '  greeting: {{ .Values.greeting | quote }}',
      '',
    ].join('\n'),
  );
  for (const [file, content] of Object.entries(options.files ?? {})) {
    mkdirSync(join(dir, file, '..'), { recursive: true });
    writeFileSync(join(dir, file), content);
  }
  return dir;
}

/** Runs the helm binary with its config, cache and data homes in `home` (never the user's). */
export async function runHelm(home: string, args: string[], cwd?: string): Promise<string> {
  const helm = await locateHelm();
  const env = {
    PATH: process.env['PATH'],
    HOME: home,
    HELM_CACHE_HOME: join(home, 'cache'),
    HELM_CONFIG_HOME: join(home, 'config'),
    HELM_DATA_HOME: join(home, 'data'),
  };
  const { stdout } = await execFileTracked(helm.file, args, { env, cwd, timeoutMs: 120_000 });
  return stdout;
}

/** Options of {@link startChartRepository}. */
export interface ChartRepositoryOptions {
  basicAuth?: { username: string; password: string };
  /** Serve HTTPS with a certificate from a fresh CA (`caPem`). */
  tls?: boolean;
  /** Require a client certificate signed by the same CA (`clientCertPem`, `clientKeyPem`). */
  clientCert?: boolean;
}

/** A chart repository on 127.0.0.1. */
export interface ChartRepository {
  /** The repository URL (no trailing slash), as a HelmRepository's `spec.url`. */
  url: string;
  /** The served directory. */
  dir: string;
  caPem?: string;
  clientCertPem?: string;
  clientKeyPem?: string;
  /** Every request's path and Authorization header, in order. */
  requests: Array<{ path: string; authorization: string | undefined }>;
  /** Writes a test chart, packages it into the repository and re-indexes; returns the `.tgz` path. */
  publish(options: TestChartOptions): Promise<string>;
  /** `helm package` of a chart directory into the repository, then `helm repo index`. */
  publishDir(chartDir: string): Promise<string>;
  /** Deletes a chart version's package and re-indexes. */
  unpublish(name: string, version: string): Promise<void>;
  /** Replaces index.yaml with `text` (to serve an invalid index). */
  writeIndex(text: string): void;
  /** Runs `helm repo index` over the directory again. */
  reindex(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts a chart repository serving a fresh directory (an empty valid index until something is published). */
export async function startChartRepository(options: ChartRepositoryOptions = {}): Promise<ChartRepository> {
  const root = mkdtempSync(join(tmpdir(), 'kedge-chartrepo-'));
  const dir = join(root, 'charts');
  const work = join(root, 'work');
  const home = join(root, 'helm-home');
  mkdirSync(dir);
  mkdirSync(work);
  mkdirSync(home);
  const requests: ChartRepository['requests'] = [];
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    requests.push({ path, authorization: req.headers.authorization });
    if (options.basicAuth && !basicAuthOk(req.headers.authorization, options.basicAuth)) {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="charts"' }).end('unauthorized\n');
      return;
    }
    const file = normalize(join(dir, path));
    if (!file.startsWith(`${dir}/`) || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404).end('not found\n');
      return;
    }
    let body: Buffer;
    try {
      body = readFileSync(file);
    } catch {
      res.writeHead(404).end('not found\n');
      return;
    }
    const type = file.endsWith('.yaml') ? 'text/yaml' : 'application/gzip';
    res.writeHead(200, { 'Content-Type': type, 'Content-Length': body.length });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
  let server: Server;
  let pki: ReturnType<typeof generateTlsPki> | undefined;
  let client: { certPem: string; keyPem: string } | undefined;
  if (options.tls || options.clientCert) {
    const pkiDir = join(root, 'pki');
    mkdirSync(pkiDir);
    pki = generateTlsPki(pkiDir);
    if (options.clientCert) client = generateClientCertificate(pkiDir);
    server = createHttpsServer(
      {
        key: pki.keyPem,
        cert: pki.certPem,
        ...(options.clientCert ? { ca: pki.caPem, requestCert: true, rejectUnauthorized: true } : {}),
      },
      handler,
    );
  } else {
    server = createHttpServer(handler);
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const url = `${pki ? 'https' : 'http'}://127.0.0.1:${port}`;
  const reindex = async (): Promise<void> => {
    await runHelm(home, ['repo', 'index', dir]);
  };
  const publishDir = async (chartDir: string): Promise<string> => {
    const out = await runHelm(home, ['package', chartDir, '--destination', dir]);
    await reindex();
    const match = /saved it to: (.+\.tgz)/.exec(out);
    return match?.[1]?.trim() ?? '';
  };
  await reindex();
  const repo: ChartRepository = {
    url,
    dir,
    requests,
    publish: (chart) => publishDir(writeTestChart(mkdtempSync(join(work, 'chart-')), chart)),
    publishDir,
    async unpublish(name, version) {
      rmSync(join(dir, `${name}-${version}.tgz`), { force: true });
      await reindex();
    },
    writeIndex(text) {
      writeFileSync(join(dir, 'index.yaml'), text);
    },
    reindex,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(root, { recursive: true, force: true });
    },
  };
  if (pki) repo.caPem = pki.caPem;
  if (client) {
    repo.clientCertPem = client.certPem;
    repo.clientKeyPem = client.keyPem;
  }
  return repo;
}

function basicAuthOk(header: string | undefined, auth: { username: string; password: string }): boolean {
  if (!header?.startsWith('Basic ')) return false;
  const decoded = Buffer.from(header.slice(6), 'base64').toString();
  const colon = decoded.indexOf(':');
  return decoded.slice(0, colon) === auth.username && decoded.slice(colon + 1) === auth.password;
}
