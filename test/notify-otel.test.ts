import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FluxEvent } from '../src/notify/flux-event.ts';
import { createNotifier } from '../src/notify/notifier-factory.ts';
import type { NotifierConfig } from '../src/notify/notifier.ts';
import { eventually } from './harness/eventually.ts';
import { createRepo } from './harness/git-repo.ts';
import { generateTlsPki } from './harness/git-servers.ts';
import {
  manifests,
  startEndpoint,
  startTestEngine,
  type ReceivedRequest,
  type TestEndpoint,
} from './notify-endpoint.ts';

// The `otel` Provider POSTs one OTLP/HTTP JSON trace request per event to a real HTTP listener; each test
// asserts the request an OpenTelemetry collector would receive: path, headers and the span Flux makes.

const commit = '0123456789abcdef0123456789abcdef01234567';
const ALERT = { namespace: 'apps', name: 'to-otel', uid: '9c0e4a7b-1111-4222-8333-444455556666' };
const event = (over: Partial<FluxEvent> = {}): FluxEvent => ({
  involvedObject: {
    kind: 'Kustomization',
    namespace: 'apps',
    name: 'podinfo',
    uid: 'b2d1c7e0-0000-4000-8000-000000000001',
    apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
  },
  severity: 'info',
  timestamp: '2026-01-02T03:04:05Z',
  message: 'Deployment/apps/podinfo configured',
  reason: 'ReconciliationSucceeded',
  metadata: { 'kustomize.toolkit.fluxcd.io/revision': `main@sha1:${commit}` },
  reportingController: 'kustomize-controller',
  reportingInstance: 'kedge-test',
  ...over,
});
/** Flux's generateID: sha256("<alert uid>:<revision>"), first 16 bytes. */
const traceId = (uid: string, revision: string) =>
  createHash('sha256').update(`${uid}:${revision}`).digest('hex').slice(0, 32);
const str = (key: string, value: string) => ({ key, value: { stringValue: value } });
const resource = (alert: { namespace: string; name: string; uid: string }) => ({
  attributes: [
    str('service.name', `${alert.namespace}/${alert.name}`),
    str('service.namespace', alert.namespace),
    str('service.instance.id', alert.uid),
  ],
});

let server: TestEndpoint;
beforeAll(async () => {
  server = await startEndpoint();
});
afterAll(() => server.stop());

const config = (extra: Partial<NotifierConfig> = {}): NotifierConfig => ({
  type: 'otel',
  address: `${server.url}/v1/traces`,
  alert: ALERT,
  provider: { namespace: 'apps', name: 'otel' },
  http: { timeoutMs: 5000 },
  ...extra,
});

async function send(
  cfg: NotifierConfig,
  e: FluxEvent,
  on: TestEndpoint = server,
): Promise<ReceivedRequest[]> {
  const before = on.requests.length;
  await createNotifier(cfg).post(e);
  return on.requests.slice(before);
}

type Span = { spanId: string; startTimeUnixNano: string; endTimeUnixNano: string };
const spanOf = (request: ReceivedRequest) =>
  (request.json() as { resourceSpans: { scopeSpans: { spans: Span[] }[] }[] }).resourceSpans[0]!
    .scopeSpans[0]!.spans[0]!;

describe('otel provider', () => {
  it('POSTs one span per event to /v1/traces: Flux trace id, attributes, Ok status, the Alert as service, bearer token', async () => {
    const sentAt = Date.now();
    const [request, ...rest] = await send(config({ token: 'otel-token' }), event());
    expect(rest).toEqual([]);
    expect(request).toMatchObject({ method: 'POST', path: '/v1/traces' });
    expect(request!.headers['content-type']).toBe('application/json');
    expect(request!.headers.authorization).toBe('Bearer otel-token');
    const span = spanOf(request!);
    expect(span.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(BigInt(span.endTimeUnixNano)).toBeGreaterThanOrEqual(BigInt(sentAt) * 1_000_000n);
    expect(request!.json()).toEqual({
      resourceSpans: [
        {
          resource: resource(ALERT),
          scopeSpans: [
            {
              scope: { name: 'flux:notification-controller' },
              spans: [
                {
                  traceId: traceId(ALERT.uid, `main@sha1:${commit}`),
                  spanId: span.spanId,
                  flags: 768,
                  name: 'Kustomization: apps/podinfo',
                  kind: 1,
                  startTimeUnixNano: '1767323045000000000',
                  endTimeUnixNano: span.endTimeUnixNano,
                  attributes: [
                    str('object.uid', 'b2d1c7e0-0000-4000-8000-000000000001'),
                    str('object.kind', 'Kustomization'),
                    str('object.name', 'podinfo'),
                    str('object.namespace', 'apps'),
                    str('kustomize.toolkit.fluxcd.io/revision', `main@sha1:${commit}`),
                  ],
                  status: { code: 1 },
                },
              ],
            },
          ],
          schemaUrl: 'https://opentelemetry.io/schemas/1.34.0',
        },
      ],
    });
  });

  it('error events: status Error with the message; basic auth; the same trace for the same Alert and revision', async () => {
    const basic = config({ basicAuth: { username: 'otel', password: 'pw' }, password: 'pw' });
    const [info] = await send(basic, event());
    const [error] = await send(
      basic,
      event({ severity: 'error', reason: 'HealthCheckFailed', message: 'health check failed' }),
    );
    expect(error!.headers.authorization).toBe(`Basic ${Buffer.from('otel:pw').toString('base64')}`);
    const body = error!.json() as {
      resourceSpans: { scopeSpans: { spans: { traceId: string; status: unknown }[] }[] }[];
    };
    const span = body.resourceSpans[0]!.scopeSpans[0]!.spans[0]!;
    expect(span.status).toEqual({ code: 2, message: 'health check failed' });
    expect(span.traceId).toBe((spanOf(info!) as unknown as { traceId: string }).traceId);
    expect(spanOf(error!).spanId).not.toBe(spanOf(info!).spanId);
  });

  it("the secret's headers are sent and an authorization header among them wins", async () => {
    const [request] = await send(
      config({ token: 'ignored', headers: { authorization: 'Api-Key abc', 'x-scope-orgid': 'tenant-1' } }),
      event(),
    );
    expect(request!.headers.authorization).toBe('Api-Key abc');
    expect(request!.headers['x-scope-orgid']).toBe('tenant-1');
  });

  it('an OCI artifact is traced by <app-version>@<oci-digest>; no revision traces as "unknown"', async () => {
    const oci = event({
      involvedObject: {
        kind: 'OCIRepository',
        namespace: 'apps',
        name: 'podinfo',
        apiVersion: 'source.toolkit.fluxcd.io/v1',
      },
      metadata: {
        'source.toolkit.fluxcd.io/revision': '6.7.0@sha256:abc',
        'source.toolkit.fluxcd.io/oci-digest': 'sha256:abc',
        'app-version': '6.7.0',
      },
    });
    const [ociRequest] = await send(config(), oci);
    expect((spanOf(ociRequest!) as unknown as { traceId: string }).traceId).toBe(
      traceId(ALERT.uid, '6.7.0@sha256:abc'),
    );
    const [plain] = await send(config(), event({ metadata: {} }));
    expect((spanOf(plain!) as unknown as { traceId: string }).traceId).toBe(traceId(ALERT.uid, 'unknown'));
  });

  it('HelmRepository events are skipped, as Flux skips them', async () => {
    const helm = event({
      involvedObject: {
        kind: 'HelmRepository',
        namespace: 'apps',
        name: 'charts',
        apiVersion: 'source.toolkit.fluxcd.io/v1',
      },
    });
    expect(await send(config(), helm)).toEqual([]);
  });

  it('https collector behind a private CA; a refused export is a failed delivery', async () => {
    const pkiDir = mkdtempSync(join(tmpdir(), 'kedge-otel-pki-'));
    const pki = generateTlsPki(pkiDir);
    const collector = await startEndpoint((_r, i) => (i === 0 ? 200 : 401), {
      key: pki.keyPem,
      cert: pki.certPem,
    });
    try {
      const tls = config({ address: `${collector.url}/v1/traces`, http: { timeoutMs: 5000, ca: pki.caPem } });
      const [request] = await send(tls, event(), collector);
      expect(request!.path).toBe('/v1/traces');
      await expect(createNotifier(tls).post(event())).rejects.toThrow(/failed with status 401/);
    } finally {
      await collector.stop();
      rmSync(pkiDir, { recursive: true, force: true });
    }
  });
});

describe('otel provider in the engine', () => {
  it("names the service after the Alert and derives the trace id from the Alert's uid and the revision", async () => {
    const { engine, dispose } = await startTestEngine();
    const repo = createRepo({ files: { 'app.yaml': 'a: 1\n' } });
    try {
      const before = server.requests.length;
      await engine.store.apply(manifests.secret('otel', { token: 'collector-token' }));
      await engine.store.apply(
        manifests.provider('otel', {
          type: 'otel',
          address: `${server.url}/v1/traces`,
          secretRef: { name: 'otel' },
        }),
      );
      await engine.store.apply(manifests.alert('traces', 'otel'));
      await engine.store.apply(manifests.gitRepository('app', repo.url));
      const request = await eventually(
        () => server.requests.slice(before).find((r) => r.path === '/v1/traces'),
        { what: 'the OTLP export' },
      );
      const alert = await engine.store.get({ kind: 'Alert', namespace: 'default', name: 'traces' });
      const uid = alert!.metadata.uid!;
      expect(uid).toMatch(/^[0-9a-f-]{36}$/);
      expect(request.headers.authorization).toBe('Bearer collector-token');
      const body = request.json() as {
        resourceSpans: { resource: unknown; scopeSpans: { spans: { traceId: string; name: string }[] }[] }[];
      };
      expect(body.resourceSpans[0]!.resource).toEqual(
        resource({ namespace: 'default', name: 'traces', uid }),
      );
      const span = body.resourceSpans[0]!.scopeSpans[0]!.spans[0]!;
      expect(span.name).toBe('GitRepository: default/app');
      expect(span.traceId).toBe(traceId(uid, `main@sha1:${repo.revParse()}`));
    } finally {
      await dispose();
      rmSync(dirname(repo.dir), { recursive: true, force: true });
    }
  });
});
