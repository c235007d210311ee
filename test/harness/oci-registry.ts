import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { eventually } from './eventually.ts';
import { freePort, generateClientCertificate, generateTlsPki } from './git-servers.ts';
import { startRegistryTokenServer, type RegistryTokenServer } from './registry-token-server.ts';
import { trackedSpawn } from './tracked-process.ts';

/** The registry lives as long as its handle; its fallback cleanup is the test file's end. */
const spawn = trackedSpawn('file');

/** Options of {@link startOciRegistry}. */
export interface OciRegistryOptions {
  /** Require HTTP basic auth with this user (htpasswd, bcrypt). */
  basicAuth?: { username: string; password: string };
  /**
   * Require Bearer tokens from a token server (Docker's token auth, as Docker Hub and GHCR do): this user gets
   * what it asks for, anonymous callers `pull` only.
   */
  tokenAuth?: { username: string; password: string };
  /** Serve HTTPS with a certificate from a fresh CA; `clientAuth` also requires a client certificate it signed. */
  tls?: boolean | { clientAuth?: boolean };
}

/** A real CNCF distribution registry (`registry serve`) on 127.0.0.1, storage in a temp dir, deletes enabled. */
export interface OciRegistry {
  /** `127.0.0.1:<port>`: what goes after `oci://` and what `helm registry login` / docker config take. */
  host: string;
  /** `oci://127.0.0.1:<port>/<repository>`, as an OCIRepository's `spec.url` takes it. */
  url(repository: string): string;
  /** `http://…` or `https://…`: the registry's HTTP API base. */
  apiBase: string;
  /** With `tls`: the PEM CA that signed the server's (and client's) certificate, and its file. */
  caPem?: string;
  caFile?: string;
  /** With `tls.clientAuth`: a client certificate and key the registry accepts (PEM), and their files. */
  clientCertPem?: string;
  clientKeyPem?: string;
  clientCertFile?: string;
  clientKeyFile?: string;
  /** With `tokenAuth`: the token server (its realm and the scopes requested from it). */
  tokenServer?: RegistryTokenServer;
  /** With `basicAuth` or `tokenAuth`: the credentials. */
  username?: string;
  password?: string;
  /** A `.dockerconfigjson` document for this registry's credentials (a kubernetes.io/dockerconfigjson Secret's key). */
  dockerConfigJson(credentials?: { username: string; password: string }): string;
  /** Pushes a Flux-style artifact (config + one tar.gz layer of `files`) as `repository:tag`. */
  pushArtifact(
    repository: string,
    tag: string,
    files: Record<string, string>,
    options?: PushOptions,
  ): Promise<PushedArtifact>;
  /** Pushes a raw image manifest with the given layers (any media types) as `repository:tag`. */
  pushManifest(
    repository: string,
    tag: string,
    layers: RawLayer[],
    options?: PushOptions,
  ): Promise<PushedArtifact>;
  /** Deletes a manifest by digest (every tag pointing to it disappears). */
  deleteManifest(repository: string, digest: string): Promise<void>;
  /** Lists the repository's tags ([] when it has none). */
  tags(repository: string): Promise<string[]>;
  /** Sends one request to the registry API with the harness's credentials and TLS settings. */
  request(
    method: string,
    path: string,
    options?: { headers?: Record<string, string>; body?: Buffer },
  ): Promise<RegistryResponse>;
  stop(): Promise<void>;
}

/** Flux's media types for `flux push artifact`. */
export const FluxConfigMediaType = 'application/vnd.cncf.flux.config.v1+json';
export const FluxContentMediaType = 'application/vnd.cncf.flux.content.v1.tar+gzip';

export interface PushOptions {
  /** Manifest annotations (e.g. org.opencontainers.image.source/revision). */
  annotations?: Record<string, string>;
}

export interface RawLayer {
  mediaType: string;
  content: Buffer;
  annotations?: Record<string, string>;
}

export interface PushedArtifact {
  /** `sha256:<hex>` of the manifest. */
  digest: string;
  /** The layers' `sha256:` digests in order. */
  layerDigests: string[];
}

export interface RegistryResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

let binary: string | undefined;

/** scripts/build-oci-registry.sh builds the registry once (install-test-prerequisites.sh does it before the tests). */
function registryBinary(): string {
  binary ??= execFileSync('bash', [join(import.meta.dirname, '../../scripts/build-oci-registry.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
  return binary;
}

function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** A bcrypt htpasswd line from Apache's `htpasswd -B` (the registry accepts bcrypt only). */
function htpasswdLine(username: string, password: string): string {
  return execFileSync('htpasswd', ['-nbB', username, password], { encoding: 'utf8' }).trim();
}

/** A tar.gz of `files` (path → content), built with the system tar as any CI would. */
function tarGz(files: Record<string, string>): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'kedge-oci-layer-'));
  try {
    for (const [path, content] of Object.entries(files)) {
      mkdirSync(join(dir, path, '..'), { recursive: true });
      writeFileSync(join(dir, path), content);
    }
    const tar = execFileSync(
      'tar',
      ['-C', dir, '--sort=name', '--mtime=@0', '--owner=0', '--group=0', '-cf', '-', '.'],
      {
        maxBuffer: 256 * 1024 * 1024,
      },
    );
    return gzipSync(tar);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Starts the registry on a free loopback port with filesystem storage in a fresh temp dir. */
export async function startOciRegistry(options: OciRegistryOptions = {}): Promise<OciRegistry> {
  const root = mkdtempSync(join(tmpdir(), 'kedge-oci-registry-'));
  let child: ReturnType<typeof spawn> | undefined;
  let tokenServer: RegistryTokenServer | undefined;
  const stop = async (): Promise<void> => {
    await tokenServer?.stop();
    if (child && child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      const exited = new Promise<void>((resolve) => child!.once('exit', () => resolve()));
      try {
        process.kill(-child.pid, 'SIGKILL');
        await exited;
      } catch {
        // already gone
      }
    }
    rmSync(root, { recursive: true, force: true });
  };
  try {
    const port = await freePort();
    const tls = options.tls === true ? {} : options.tls || undefined;
    const pki = tls ? generateTlsPki(root) : undefined;
    if (tls?.clientAuth) generateClientCertificate(root);
    if (options.tokenAuth) {
      tokenServer = await startRegistryTokenServer(options.tokenAuth);
      writeFileSync(join(root, 'jwks.json'), tokenServer.jwks());
    }
    const config: Record<string, unknown> = {
      version: 0.1,
      log: { level: 'error', accesslog: { disabled: true } },
      storage: { filesystem: { rootdirectory: join(root, 'data') }, delete: { enabled: true } },
      http: {
        addr: `127.0.0.1:${port}`,
        ...(pki
          ? {
              tls: {
                certificate: join(root, 'server.crt'),
                key: join(root, 'server.key'),
                ...(tls?.clientAuth ? { clientcas: [join(root, 'ca.crt')] } : {}),
              },
            }
          : {}),
      },
      ...(options.basicAuth
        ? { auth: { htpasswd: { realm: 'kedge-test', path: join(root, 'htpasswd') } } }
        : {}),
      ...(tokenServer
        ? {
            auth: {
              token: {
                realm: tokenServer.realm,
                service: tokenServer.service,
                issuer: tokenServer.issuer,
                jwks: join(root, 'jwks.json'),
              },
            },
          }
        : {}),
    };
    if (options.basicAuth)
      writeFileSync(
        join(root, 'htpasswd'),
        `${htpasswdLine(options.basicAuth.username, options.basicAuth.password)}\n`,
      );
    // JSON is YAML: the registry reads it as its config file.
    writeFileSync(join(root, 'config.yml'), JSON.stringify(config, null, 2));
    let stderr = '';
    child = spawn(registryBinary(), ['serve', join(root, 'config.yml')], {
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { PATH: process.env.PATH, HOME: root },
    });
    child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    const host = `127.0.0.1:${port}`;
    const credentials = options.basicAuth ?? options.tokenAuth;
    const apiBase = `${pki ? 'https' : 'http'}://${host}`;
    const read = (file: string): string => readFileSync(join(root, file), 'utf8');
    const clientCertPem = tls?.clientAuth ? read('client.crt') : undefined;
    const clientKeyPem = tls?.clientAuth ? read('client.key') : undefined;
    const basic = options.basicAuth
      ? `Basic ${Buffer.from(`${options.basicAuth.username}:${options.basicAuth.password}`).toString('base64')}`
      : undefined;
    /** Basic credentials, or a token minted for the repository the path names (the harness acts as its owner). */
    const authorizationFor = (url: URL): string | undefined => {
      if (!tokenServer) return basic;
      const repository = /^\/v2\/(.+?)\/(?:blobs|manifests|tags)\//.exec(url.pathname)?.[1];
      return `Bearer ${tokenServer.mint(options.tokenAuth!.username, repository, ['pull', 'push', 'delete'])}`;
    };

    const request: OciRegistry['request'] = (method, path, opts = {}) =>
      new Promise((resolve, reject) => {
        const url = path.startsWith('http') ? new URL(path) : new URL(path, apiBase);
        const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
        const authorization = authorizationFor(url);
        const req = send(
          url,
          {
            method,
            headers: {
              ...(authorization ? { authorization } : {}),
              ...(opts.body ? { 'content-length': String(opts.body.length) } : {}),
              ...opts.headers,
            },
            ...(pki ? { ca: pki.caPem } : {}),
            ...(clientCertPem ? { cert: clientCertPem, key: clientKeyPem } : {}),
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () =>
              resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
            );
            res.on('error', reject);
          },
        );
        req.on('error', reject);
        req.end(opts.body);
      });
    const expectStatus = (res: RegistryResponse, wanted: number, what: string): void => {
      if (res.status !== wanted)
        throw new Error(`registry ${what}: HTTP ${res.status}: ${res.body.toString().slice(0, 500)}`);
    };
    const pushBlob = async (repository: string, content: Buffer): Promise<string> => {
      const digest = sha256(content);
      const start = await request('POST', `/v2/${repository}/blobs/uploads/`);
      expectStatus(start, 202, `blob upload start for ${repository}`);
      const location = new URL(String(start.headers.location), apiBase);
      location.searchParams.set('digest', digest);
      const put = await request('PUT', location.toString(), {
        headers: { 'content-type': 'application/octet-stream' },
        body: content,
      });
      expectStatus(put, 201, `blob upload of ${digest} to ${repository}`);
      return digest;
    };
    const pushManifest: OciRegistry['pushManifest'] = async (repository, tag, layers, pushOptions = {}) => {
      const configBlob = Buffer.from('{}');
      const configDigest = await pushBlob(repository, configBlob);
      const layerDigests: string[] = [];
      for (const layer of layers) layerDigests.push(await pushBlob(repository, layer.content));
      const manifest = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          config: { mediaType: FluxConfigMediaType, digest: configDigest, size: configBlob.length },
          layers: layers.map((layer, i) => ({
            mediaType: layer.mediaType,
            digest: layerDigests[i],
            size: layer.content.length,
            ...(layer.annotations ? { annotations: layer.annotations } : {}),
          })),
          ...(pushOptions.annotations ? { annotations: pushOptions.annotations } : {}),
        }),
      );
      const put = await request('PUT', `/v2/${repository}/manifests/${tag}`, {
        headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
        body: manifest,
      });
      expectStatus(put, 201, `manifest push of ${repository}:${tag}`);
      return { digest: sha256(manifest), layerDigests };
    };

    await eventually(
      async () => {
        if (child?.exitCode !== null) throw new Error(`the registry exited (${child?.exitCode}): ${stderr}`);
        const res = await request('GET', '/v2/');
        if (res.status !== 200) throw new Error(`GET /v2/ answered ${res.status}`);
        return true;
      },
      { what: `OCI registry on ${host}` },
    );
    return {
      host,
      apiBase,
      url: (repository) => `oci://${host}/${repository}`,
      ...(pki ? { caPem: pki.caPem, caFile: join(root, 'ca.crt') } : {}),
      ...(clientCertPem
        ? {
            clientCertPem,
            clientKeyPem,
            clientCertFile: join(root, 'client.crt'),
            clientKeyFile: join(root, 'client.key'),
          }
        : {}),
      ...(credentials ? { username: credentials.username, password: credentials.password } : {}),
      ...(tokenServer ? { tokenServer } : {}),
      dockerConfigJson(given = credentials) {
        const credentials = given;
        const auth = credentials
          ? Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')
          : '';
        return JSON.stringify({ auths: { [host]: { ...credentials, auth } } });
      },
      pushArtifact: (repository, tag, files, pushOptions) =>
        pushManifest(
          repository,
          tag,
          [{ mediaType: FluxContentMediaType, content: tarGz(files) }],
          pushOptions,
        ),
      pushManifest,
      async deleteManifest(repository, digest) {
        const res = await request('DELETE', `/v2/${repository}/manifests/${digest}`);
        expectStatus(res, 202, `manifest delete of ${repository}@${digest}`);
      },
      async tags(repository) {
        const res = await request('GET', `/v2/${repository}/tags/list`);
        if (res.status === 404) return [];
        expectStatus(res, 200, `tag list of ${repository}`);
        return (JSON.parse(res.body.toString()) as { tags: string[] | null }).tags ?? [];
      },
      request,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
