import { createHash } from 'node:crypto';
import { createServer as createHttpServer, type Server } from 'node:http';
import { connect } from 'node:net';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Condition, KObject } from '../src/api/meta.ts';
import { createLogger } from '../src/runtime/logger.ts';
import { eventually } from './harness/eventually.ts';
import { startS3Server, type S3Server } from './harness/s3-server.ts';
import { startTestEngine, type TestEngine } from './harness/test-engine.ts';

/*
 * Bucket sources against a real S3-compatible server (Versity S3 Gateway on 127.0.0.1, built from Go modules):
 * the artifact, Flux's revision, a Kustomization applying from it, and every way fetching can fail.
 */

let s3: S3Server;
beforeAll(async () => {
  s3 = await startS3Server();
}, 600_000);
afterAll(async () => {
  await s3?.stop();
});

const md5 = (text: string) => createHash('md5').update(text).digest('hex');

/** Flux's revision of a bucket index, computed here from the objects' contents (single-part ETag = MD5). */
function expectedRevision(objects: Record<string, string>): string {
  const keys = Object.keys(objects).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const hash = createHash('sha256');
  for (const key of keys) hash.update(`${key} ${md5(objects[key]!)}\n`);
  return `sha256:${hash.digest('hex')}`;
}

const configMap = (name: string, value: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n  namespace: default\ndata:\n  value: "${value}"\n`;

function manifests(
  bucket: string,
  opts: { name?: string; secret?: string; endpoint?: string; extra?: string } = {},
): string {
  const name = opts.name ?? bucket;
  return `
apiVersion: v1
kind: Secret
metadata: {name: ${name}-keys, namespace: default}
stringData:
  accesskey: ${s3.accessKey}
  secretkey: ${opts.secret ?? s3.secretKey}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: Bucket
metadata: {name: ${name}, namespace: default}
spec:
  interval: 1s
  provider: generic
  bucketName: ${bucket}
  endpoint: ${opts.endpoint ?? s3.endpoint}
  insecure: true
  secretRef: {name: ${name}-keys}
${opts.extra ?? ''}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: ${name}, namespace: default}
spec:
  interval: 10m
  sourceRef: {kind: Bucket, name: ${name}}
  path: ./apps
  prune: true
`;
}

const ready = (object: KObject | undefined): Condition | undefined =>
  (object?.status as { conditions?: Condition[] } | undefined)?.conditions?.find((c) => c.type === 'Ready');
const artifactOf = (object: KObject | undefined) =>
  (object?.status as { artifact?: { revision: string; digest: string; url: string } } | undefined)?.artifact;

async function withEngine<T>(fn: (t: TestEngine, logs: () => string) => Promise<T>): Promise<T> {
  const captured: Buffer[] = [];
  const destination = new PassThrough();
  destination.on('data', (chunk: Buffer) => captured.push(chunk));
  const t = await startTestEngine({ log: createLogger({ level: 'debug', format: 'json', destination }) });
  try {
    return await fn(t, () => Buffer.concat(captured).toString('utf8'));
  } finally {
    await t.stop();
  }
}

describe('Bucket source (S3 API, real server)', () => {
  it('packs the listed objects into an artifact with Flux revision, and a Kustomization applies it', async () => {
    const objects = {
      'apps/kustomization.yaml': 'resources: [config.yaml]\n',
      'apps/config.yaml': configMap('from-bucket', 'one'),
      'docs/README.md': '# not deployed\n',
      'ignored/huge.bin': 'left out by .sourceignore',
    };
    await s3.put('manifests-a', { ...objects, '.sourceignore': 'ignored/\n' });
    await withEngine(async (t) => {
      await t.apply(manifests('manifests-a'));
      const bucket = await t.waitForReady({ kind: 'Bucket', namespace: 'default', name: 'manifests-a' });
      // The ignore file and what it excludes are not part of the revision.
      const listed = { ...objects } as Record<string, string>;
      delete listed['ignored/huge.bin'];
      expect(artifactOf(bucket)?.revision).toBe(expectedRevision(listed));
      expect(ready(bucket)?.message).toBe(`stored artifact: revision '${expectedRevision(listed)}'`);

      const artifact = await (await fetch(artifactOf(bucket)!.url)).arrayBuffer();
      expect(`sha256:${createHash('sha256').update(Buffer.from(artifact)).digest('hex')}`).toBe(
        artifactOf(bucket)!.digest,
      );

      const ks = await t.waitForReady({ kind: 'Kustomization', namespace: 'default', name: 'manifests-a' });
      expect(ready(ks)?.message).toBe(`Applied revision: ${expectedRevision(listed)}`);
      const cm = await t.get({ kind: 'ConfigMap', namespace: 'default', name: 'from-bucket' });
      expect(cm?.data).toEqual({ value: 'one' });

      const events = await t.engine.store.listEvents({ kind: 'Bucket', name: 'manifests-a' });
      expect(events.map((e) => e.message)).toContain(
        "stored artifact with 3 fetched files from 'manifests-a' bucket",
      );
    });
  });

  it('follows a changed object to a new revision and downloads nothing while the bucket is unchanged', async () => {
    await s3.put('manifests-b', {
      'apps/kustomization.yaml': 'resources: [config.yaml]\n',
      'apps/config.yaml': configMap('follows', 'v1'),
    });
    await withEngine(async (t) => {
      await t.apply(manifests('manifests-b'));
      const first = await t.waitForReady({
        kind: 'Kustomization',
        namespace: 'default',
        name: 'manifests-b',
      });
      const firstRevision = (first.status as { lastAppliedRevision: string }).lastAppliedRevision;

      // Listings at the 1 s interval: no download while nothing changed.
      const downloads = async () => {
        const text = await (await fetch(`${t.engine.metricsUrl}/metrics`)).text();
        return Number(
          /kedge_bucket_fetch_duration_seconds_count\{operation="download",result="success"\} (\d+)/.exec(
            text,
          )?.[1] ?? 0,
        );
      };
      const listings = async () => {
        const text = await (await fetch(`${t.engine.metricsUrl}/metrics`)).text();
        return Number(
          /kedge_bucket_fetch_duration_seconds_count\{operation="list",result="success"\} (\d+)/.exec(
            text,
          )?.[1] ?? 0,
        );
      };
      const before = { downloads: await downloads(), listings: await listings() };
      await eventually(async () => expect(await listings()).toBeGreaterThanOrEqual(before.listings + 2), {
        what: 'two more listings',
      });
      expect(await downloads()).toBe(before.downloads);

      await s3.put('manifests-b', { 'apps/config.yaml': configMap('follows', 'v2') });
      await eventually(
        async () =>
          expect((await t.get({ kind: 'ConfigMap', namespace: 'default', name: 'follows' }))?.data).toEqual({
            value: 'v2',
          }),
        { what: 'the ConfigMap to follow the bucket' },
      );
      const after = await t.waitForReady({
        kind: 'Kustomization',
        namespace: 'default',
        name: 'manifests-b',
      });
      expect((after.status as { lastAppliedRevision: string }).lastAppliedRevision).not.toBe(firstRevision);
    });
  });

  it('selects objects by prefix and spec.ignore', async () => {
    await s3.put('manifests-c', {
      'team-a/apps/kustomization.yaml': 'resources: [config.yaml]\n',
      'team-a/apps/config.yaml': configMap('team-a', 'a'),
      'team-a/apps/notes.txt': 'ignored by spec.ignore',
      'team-b/apps/config.yaml': configMap('team-b', 'b'),
    });
    await withEngine(async (t) => {
      await t.apply(manifests('manifests-c', { extra: '  prefix: team-a/\n  ignore: "*.txt"\n' }));
      const bucket = await t.waitForReady({ kind: 'Bucket', namespace: 'default', name: 'manifests-c' });
      expect(artifactOf(bucket)?.revision).toBe(
        expectedRevision({
          'team-a/apps/kustomization.yaml': 'resources: [config.yaml]\n',
          'team-a/apps/config.yaml': configMap('team-a', 'a'),
        }),
      );
    });
  });

  it('goes Ready=False on a wrong secret key, keeps the last artifact and prunes nothing, and never shows the key', async () => {
    await s3.put('manifests-d', {
      'apps/kustomization.yaml': 'resources: [config.yaml]\n',
      'apps/config.yaml': configMap('kept', 'good'),
    });
    const wrong = 'wrong-secret-key-do-not-print';
    await withEngine(async (t, logs) => {
      await t.apply(manifests('manifests-d'));
      const good = await t.waitForReady({ kind: 'Bucket', namespace: 'default', name: 'manifests-d' });
      await t.waitForReady({ kind: 'Kustomization', namespace: 'default', name: 'manifests-d' });

      await t.apply(manifests('manifests-d', { secret: wrong }));
      const failed = await t.waitForReady(
        { kind: 'Bucket', namespace: 'default', name: 'manifests-d' },
        (r) => r.status === 'False',
      );
      expect(ready(failed)?.reason).toBe('AuthenticationFailed');
      expect(ready(failed)?.message).toMatch(/SignatureDoesNotMatch/);
      expect(artifactOf(failed)).toEqual(artifactOf(good));
      expect((await t.get({ kind: 'ConfigMap', namespace: 'default', name: 'kept' }))?.data).toEqual({
        value: 'good',
      });

      const events = await t.engine.store.listEvents({});
      for (const text of [JSON.stringify(failed.status), JSON.stringify(events), logs()]) {
        expect(text).not.toContain(wrong);
        expect(text).not.toContain(s3.secretKey);
      }
    });
  });

  it('names the missing bucket, the unreachable endpoint and the missing key in Ready=False', async () => {
    await withEngine(async (t) => {
      await t.apply(manifests('no-such-bucket'));
      const missing = await t.waitForReady(
        { kind: 'Bucket', namespace: 'default', name: 'no-such-bucket' },
        (r) => r.status === 'False',
      );
      expect(ready(missing)?.reason).toBe('BucketOperationFailed');
      expect(ready(missing)?.message).toBe("bucket 'no-such-bucket' not found");
      const ks = await t.waitForReady(
        { kind: 'Kustomization', namespace: 'default', name: 'no-such-bucket' },
        (r) => r.status === 'False',
      );
      expect(ready(ks)?.message).toContain(
        "waiting for source Bucket 'default/no-such-bucket' to fetch its first artifact",
      );

      await t.apply(manifests('unreachable', { endpoint: '127.0.0.1:1' }));
      const down = await t.waitForReady(
        { kind: 'Bucket', namespace: 'default', name: 'unreachable' },
        (r) => r.status === 'False',
      );
      expect(ready(down)?.reason).toBe('BucketOperationFailed');
      expect(ready(down)?.message).toMatch(
        /failed to confirm existence of 'unreachable' bucket: ECONNREFUSED/,
      );

      await t.apply(`
apiVersion: source.toolkit.fluxcd.io/v1
kind: Bucket
metadata: {name: keyless, namespace: default}
spec: {interval: 1m, bucketName: keyless, endpoint: ${s3.endpoint}, insecure: true, secretRef: {name: absent}}
`);
      const keyless = await t.waitForReady(
        { kind: 'Bucket', namespace: 'default', name: 'keyless' },
        (r) => r.status === 'False',
      );
      expect(ready(keyless)?.reason).toBe('AuthenticationFailed');
      expect(ready(keyless)?.message).toBe("failed to get credentials secret 'default/absent': not found");
    });
  });

  it('reaches an HTTPS server through a CONNECT proxy, trusting the CA of certSecretRef', async () => {
    const secure = await startS3Server({ tls: true });
    const tunnels: string[] = [];
    const piped = new Set<import('node:net').Socket>();
    const proxy: Server = createHttpServer((_req, res) => res.writeHead(405).end());
    proxy.on('connect', (req, client, head) => {
      tunnels.push(`${req.url} ${req.headers['proxy-authorization'] ?? ''}`);
      const [host, port] = (req.url ?? '').split(':');
      const upstream = connect(Number(port), host, () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        upstream.write(head);
        upstream.pipe(client).pipe(upstream);
      });
      piped.add(upstream).add(client as import('node:net').Socket);
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    try {
      await secure.put('tls-bucket', {
        'apps/kustomization.yaml': 'resources: [config.yaml]\n',
        'apps/config.yaml': configMap('over-tls', 'yes'),
      });
      const proxyPort = (proxy.address() as { port: number }).port;
      await withEngine(async (t) => {
        const ca = secure
          .caPem!.split('\n')
          .map((line) => `    ${line}`)
          .join('\n');
        await t.apply(`
apiVersion: v1
kind: Secret
metadata: {name: tls-keys, namespace: default}
stringData: {accesskey: ${secure.accessKey}, secretkey: ${secure.secretKey}}
---
apiVersion: v1
kind: Secret
metadata: {name: tls-ca, namespace: default}
stringData:
  ca.crt: |
${ca}
---
apiVersion: v1
kind: Secret
metadata: {name: tls-proxy, namespace: default}
stringData: {address: "http://127.0.0.1:${proxyPort}", username: kedge, password: proxy-pass}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: Bucket
metadata: {name: tls-bucket, namespace: default}
spec:
  interval: 1m
  bucketName: tls-bucket
  endpoint: ${secure.endpoint}
  secretRef: {name: tls-keys}
  certSecretRef: {name: tls-ca}
  proxySecretRef: {name: tls-proxy}
`);
        const bucket = await t.waitForReady({ kind: 'Bucket', namespace: 'default', name: 'tls-bucket' });
        expect(artifactOf(bucket)?.revision).toBe(
          expectedRevision({
            'apps/kustomization.yaml': 'resources: [config.yaml]\n',
            'apps/config.yaml': configMap('over-tls', 'yes'),
          }),
        );
        const basic = `Basic ${Buffer.from('kedge:proxy-pass').toString('base64')}`;
        expect(tunnels.length).toBeGreaterThan(0);
        expect(new Set(tunnels)).toEqual(new Set([`${secure.endpoint} ${basic}`]));

        // Without the CA the server's certificate is not trusted.
        await t.apply(`
apiVersion: source.toolkit.fluxcd.io/v1
kind: Bucket
metadata: {name: untrusted, namespace: default}
spec: {interval: 1m, bucketName: tls-bucket, endpoint: ${secure.endpoint}, secretRef: {name: tls-keys}}
`);
        const untrusted = await t.waitForReady(
          { kind: 'Bucket', namespace: 'default', name: 'untrusted' },
          (r) => r.status === 'False',
        );
        expect(ready(untrusted)?.message).toMatch(/certificate/i);
      });
    } finally {
      for (const socket of piped) socket.destroy();
      await new Promise((resolve) => proxy.close(resolve));
      await secure.stop();
    }
  });
});
