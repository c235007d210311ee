import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FluxConfigMediaType,
  FluxContentMediaType,
  OciError,
  RegistryClient,
  pullFluxArtifact,
  pushFluxArtifact,
  type RegistryClientOptions,
} from '../src/source/oci/index.ts';
import { startOciRegistry, type OciRegistry } from './harness/oci-registry.ts';

/*
 * Kedge's OCI client against a real CNCF distribution registry on 127.0.0.1: artifacts pushed by the test
 * harness (its own minimal pusher) are resolved and pulled by the client, and artifacts the client pushes are
 * read back through the raw registry API; basic auth, TLS with a private CA and a client certificate.
 */

const scratch = mkdtempSync(join(tmpdir(), 'kedge-oci-client-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function dir(files: Record<string, string>): string {
  const root = mkdtempSync(join(scratch, 'src-'));
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), content);
  }
  return root;
}

async function withClient<T>(
  registry: OciRegistry,
  options: RegistryClientOptions,
  fn: (client: RegistryClient) => Promise<T>,
): Promise<T> {
  const client = new RegistryClient(registry.host, options);
  try {
    return await fn(client);
  } finally {
    client.close();
  }
}

describe('plain HTTP registry', () => {
  let registry: OciRegistry;
  beforeAll(async () => {
    registry = await startOciRegistry();
  });
  afterAll(() => registry?.stop());

  it('resolves and pulls what another pusher pushed, with the same digest', async () => {
    const pushed = await registry.pushArtifact('team/app', 'v1', { 'deploy/cm.yaml': 'kind: ConfigMap\n' });
    await withClient(registry, {}, async (client) => {
      const descriptor = await client.resolve('team/app', 'v1');
      expect(descriptor.digest).toBe(pushed.digest);
      const out = mkdtempSync(join(scratch, 'out-'));
      const pulled = await pullFluxArtifact(
        client,
        { registry: registry.host, repository: 'team/app', tag: 'v1' },
        out,
      );
      expect(pulled).toMatchObject({ digest: pushed.digest, written: 'extracted' });
      expect(readFileSync(join(out, 'deploy/cm.yaml'), 'utf8')).toBe('kind: ConfigMap\n');
    });
  });

  it('pushes a Flux artifact that the registry serves with Flux media types and annotations', async () => {
    const source = dir({ 'app/deploy.yaml': 'kind: Deployment\n', '.git/HEAD': 'ref\n' });
    const address = { registry: registry.host, repository: 'team/pushed', tag: 'v2' };
    const pushed = await withClient(registry, {}, (client) =>
      pushFluxArtifact(client, address, source, {
        source: 'https://example.com/repo.git',
        revision: 'main@sha1:0123456789abcdef0123456789abcdef01234567',
        created: '2026-01-02T03:04:05Z',
      }),
    );
    const res = await registry.request('GET', '/v2/team/pushed/manifests/v2', {
      headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
    });
    expect(res.headers['docker-content-digest']).toBe(pushed.digest);
    const manifest = JSON.parse(res.body.toString()) as {
      config: { mediaType: string };
      layers: Array<{ mediaType: string }>;
      annotations: Record<string, string>;
    };
    expect(manifest.config.mediaType).toBe(FluxConfigMediaType);
    expect(manifest.layers.map((l) => l.mediaType)).toEqual([FluxContentMediaType]);
    expect(manifest.annotations).toEqual({
      'org.opencontainers.image.created': '2026-01-02T03:04:05Z',
      'org.opencontainers.image.source': 'https://example.com/repo.git',
      'org.opencontainers.image.revision': 'main@sha1:0123456789abcdef0123456789abcdef01234567',
    });
    // Pulled back: the files without .git.
    const out = mkdtempSync(join(scratch, 'out-'));
    await withClient(registry, {}, (client) => pullFluxArtifact(client, address, out));
    expect(readFileSync(join(out, 'app/deploy.yaml'), 'utf8')).toBe('kind: Deployment\n');
    expect(() => readFileSync(join(out, '.git/HEAD'))).toThrow();
    // Same content pushed again: same digest (the layer is deterministic), no blob uploaded twice.
    const again = await withClient(registry, {}, (client) =>
      pushFluxArtifact(client, { ...address, tag: 'v3' }, source, {
        source: 'https://example.com/repo.git',
        revision: 'main@sha1:0123456789abcdef0123456789abcdef01234567',
        created: '2026-01-02T03:04:05Z',
      }),
    );
    expect(again.digest).toBe(pushed.digest);
  });

  it('lists tags and tells a missing tag from other failures', async () => {
    await registry.pushArtifact('team/tags', '1.0.0', { 'a.yaml': 'a: 1\n' });
    await registry.pushArtifact('team/tags', '1.1.0', { 'a.yaml': 'a: 2\n' });
    await withClient(registry, {}, async (client) => {
      expect((await client.listTags('team/tags')).sort()).toEqual(['1.0.0', '1.1.0']);
      const missing = await client.resolve('team/tags', 'nope').catch((e: unknown) => e);
      expect(missing).toBeInstanceOf(OciError);
      expect((missing as OciError).isNotFound).toBe(true);
    });
  });

  it('reports an unreachable registry with the address', async () => {
    const port = Number(registry.host.split(':')[1]);
    const client = new RegistryClient(`127.0.0.1:${port === 1 ? 2 : 1}`, {});
    const error = await client.resolve('team/app', 'v1').catch((e: unknown) => e);
    client.close();
    expect(error).toBeInstanceOf(OciError);
    expect((error as OciError).kind).toBe('unreachable');
    expect((error as Error).message).toMatch(/ECONNREFUSED/);
  });
});

describe('registry with basic auth over TLS with client certificates', () => {
  let registry: OciRegistry;
  const basicAuth = { username: 'ci', password: 'p4ss-w0rd' };
  beforeAll(async () => {
    registry = await startOciRegistry({ basicAuth, tls: { clientAuth: true } });
    await registry.pushArtifact('secure/app', 'v1', { 'x.yaml': 'x: 1\n' });
  });
  afterAll(() => registry?.stop());

  const tls = () => ({ ca: registry.caPem!, cert: registry.clientCertPem!, key: registry.clientKeyPem! });

  it('pulls with the CA, the client certificate and the credentials', async () => {
    const out = mkdtempSync(join(scratch, 'out-'));
    await withClient(registry, { ...tls(), credentials: basicAuth }, (client) =>
      pullFluxArtifact(client, { registry: registry.host, repository: 'secure/app', tag: 'v1' }, out),
    );
    expect(readFileSync(join(out, 'x.yaml'), 'utf8')).toBe('x: 1\n');
  });

  it.each([
    ['no credentials', () => ({ ...tls() }), 'authentication', /requires credentials/],
    [
      'wrong password',
      () => ({ ...tls(), credentials: { ...basicAuth, password: 'nope' } }),
      'authentication',
      /refused the credentials/,
    ],
    ['an untrusted server certificate', () => ({ credentials: basicAuth }), 'unreachable', /certSecretRef/],
  ])('refuses %s', async (_name, options, kind, message) => {
    const error = await withClient(registry, options(), (client) => client.resolve('secure/app', 'v1')).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(OciError);
    expect((error as OciError).kind).toBe(kind);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain(basicAuth.password);
  });
});

describe('registry with token authentication (Bearer, as Docker Hub and GHCR)', () => {
  let registry: OciRegistry;
  const user = { username: 'robot', password: 't0ken-p4ss' };
  beforeAll(async () => {
    registry = await startOciRegistry({ tokenAuth: user });
    await registry.pushArtifact('public/app', 'v1', { 'p.yaml': 'p: 1\n' });
  });
  afterAll(() => registry?.stop());

  it('pulls anonymously with a pull token, and pushes with a token the credentials bought', async () => {
    const anonymous = await withClient(registry, {}, (client) => client.resolve('public/app', 'v1'));
    expect(anonymous.digest).toMatch(/^sha256:/);
    expect(registry.tokenServer!.requests).toContainEqual({
      scope: 'repository:public/app:pull',
      user: undefined,
    });

    const source = dir({ 'q.yaml': 'q: 1\n' });
    const address = { registry: registry.host, repository: 'robot/app', tag: 'v1' };
    const pushed = await withClient(registry, { credentials: user }, (client) =>
      pushFluxArtifact(client, address, source),
    );
    expect(registry.tokenServer!.requests).toContainEqual({
      scope: 'repository:robot/app:pull,push',
      user: 'robot',
    });
    const out = mkdtempSync(join(scratch, 'out-'));
    const pulled = await withClient(registry, { credentials: user }, (client) =>
      pullFluxArtifact(client, address, out),
    );
    expect(pulled.digest).toBe(pushed.digest);
    expect(readFileSync(join(out, 'q.yaml'), 'utf8')).toBe('q: 1\n');
  });

  it('refuses an anonymous push and wrong credentials, naming the token server', async () => {
    const address = { registry: registry.host, repository: 'robot/other', tag: 'v1' };
    const anonymous = await withClient(registry, {}, (client) =>
      pushFluxArtifact(client, address, dir({ 'a.yaml': 'a\n' })),
    ).catch((e: unknown) => e);
    expect((anonymous as OciError).kind).toBe('authentication');
    expect((anonymous as Error).message).toMatch(/HTTP 401 .*requires credentials/);

    const wrong = await withClient(registry, { credentials: { ...user, password: 'bad' } }, (client) =>
      client.resolve('public/app', 'v1'),
    ).catch((e: unknown) => e);
    expect((wrong as OciError).kind).toBe('authentication');
    expect((wrong as Error).message).toContain(`get a token from 127.0.0.1:`);
    expect((wrong as Error).message).toContain('HTTP 401');
  });
});
