import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReconcileRequestAnnotation } from '../src/api/conditions.ts';
import { WebAccess } from '../src/web/dashboard/web-access.ts';
import { eventually } from './harness/eventually.ts';
import { startTestEngine, type TestEngine } from './harness/test-engine.ts';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTP request with exactly these headers (fetch would refuse to set Host). */
function call(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string; readMs?: number } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'GET', headers: options.headers }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      const done = () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
      res.on('end', done);
      // A stream never ends: read it for a while, then hang up.
      if (options.readMs) setTimeout(() => (req.destroy(), done()), options.readMs);
    });
    req.on('error', (error) => (options.readMs ? undefined : reject(error)));
    req.end(options.body);
  });
}

const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  call(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });

const SECRET_VALUES = [
  'hunter2-password',
  'slack-webhook-token-123',
  'topsecret-data-value',
  'query-token-456',
];

const manifests = `
apiVersion: v1
kind: Secret
metadata: { name: creds }
stringData: { password: ${SECRET_VALUES[2]} }
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: { name: private }
spec:
  interval: 10m
  url: https://robot:${SECRET_VALUES[0]}@127.0.0.1:1/repo.git?token=${SECRET_VALUES[3]}
  ref: { branch: main }
  secretRef: { name: creds }
  suspend: true
---
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Provider
metadata: { name: chat }
spec:
  type: generic
  address: https://hooks.example.com/services/${SECRET_VALUES[1]}
  suspend: true
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: { name: apps }
spec:
  interval: 10m
  path: ./
  prune: true
  sourceRef: { kind: GitRepository, name: private }
  suspend: true
`;

describe('dashboard API', () => {
  let loopback: TestEngine;
  let base: string;

  beforeAll(async () => {
    loopback = await startTestEngine({ web: { address: { host: '127.0.0.1', port: 0 } } });
    await loopback.apply(manifests);
    base = loopback.engine.web!.url;
  });
  afterAll(() => loopback?.stop());

  it('needs its token off loopback: generated when none is given, from a header or the cookie /?token= sets', async () => {
    expect(() => new WebAccess(undefined, false)).toThrow(/needs a token/);
    const open = await startTestEngine({ web: { address: { host: '0.0.0.0', port: 0 } } });
    try {
      const web = open.engine.web!;
      expect(web.token).toMatch(/^[A-Za-z0-9_-]{24,}$/);
      const url = web.url.replace('0.0.0.0', '127.0.0.1');
      expect((await call(`${url}/api/objects`)).status).toBe(401);
      expect((await call(`${url}/`)).status).toBe(401);
      expect((await call(`${url}/api/objects`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(
        401,
      );
      expect(
        (await call(`${url}/api/objects`, { headers: { authorization: `Bearer ${web.token}` } })).status,
      ).toBe(200);
      expect((await call(`${url}/?token=wrong`)).status).toBe(401);
      const login = await call(`${url}/?token=${web.token}`);
      expect(login.status).toBe(303);
      const cookie = String(login.headers['set-cookie']).split(';')[0]!;
      expect(String(login.headers['set-cookie'])).toMatch(/HttpOnly; SameSite=Strict/);
      const page = await call(`${url}/`, { headers: { cookie } });
      expect(page.status).toBe(200);
      expect(page.body).toContain('<script type="module" src="/app.js">');
      // The token alone does not make a mutation: the CSRF header is still needed.
      const ref = { kind: 'Kustomization', namespace: 'default', name: 'x' };
      expect((await post(`${url}/api/actions/suspend`, ref, { cookie })).status).toBe(403);
      expect(
        (
          await post(`${url}/api/actions/suspend`, ref, {
            authorization: 'Bearer wrong',
            'x-kedge-request': '1',
          })
        ).status,
      ).toBe(401);
    } finally {
      await open.stop();
    }
  });

  it('refuses cross-site mutations and foreign Host names; a same-origin request with the header acts', async () => {
    const ref = { kind: 'Kustomization', namespace: 'default', name: 'apps' };
    const host = new URL(base).host;
    const refusals = await Promise.all([
      post(`${base}/api/actions/resume`, ref),
      post(`${base}/api/actions/resume`, ref, { 'x-kedge-request': '1', origin: 'http://evil.example' }),
      post(`${base}/api/actions/resume`, ref, { 'x-kedge-request': '1', 'sec-fetch-site': 'cross-site' }),
      post(`${base}/api/actions/resume`, ref, { 'x-kedge-request': '1', host: 'evil.example' }),
      call(`${base}/api/objects`, { headers: { host: `rebound.example:${new URL(base).port}` } }),
    ]);
    expect(refusals.map((r) => r.status)).toEqual([403, 403, 403, 403, 403]);
    const untouched = await loopback.get({ ...ref });
    expect((untouched?.spec as { suspend?: boolean }).suspend).toBe(true);
    expect(untouched?.metadata.annotations?.[ReconcileRequestAnnotation]).toBeUndefined();

    const done = await post(`${base}/api/actions/reconcile`, ref, {
      'x-kedge-request': '1',
      origin: `http://${host}`,
      'sec-fetch-site': 'same-origin',
    });
    expect(done.status).toBe(409);
    expect(done.body).toMatch(/suspended: resume it first/);
    const suspendSource = await post(
      `${base}/api/actions/suspend`,
      { kind: 'Provider', name: 'chat' },
      { 'x-kedge-request': '1' },
    );
    expect(suspendSource.status).toBe(200);
    const secretKind = await post(
      `${base}/api/actions/suspend`,
      { kind: 'Secret', name: 'creds' },
      { 'x-kedge-request': '1' },
    );
    expect(secretKind.status).toBe(400);
    const missing = await post(
      `${base}/api/actions/suspend`,
      { kind: 'Kustomization', name: 'nope' },
      { 'x-kedge-request': '1' },
    );
    expect(missing.status).toBe(404);
  });

  it('never serves Secrets, credentials in URLs or webhook addresses: not in lists, object pages or the live stream', async () => {
    const bodies: string[] = [];
    const stream = call(`${base}/api/stream`, { readMs: 1500 });
    // A change while the stream is open: the Kustomization's reconcile request shows up on it.
    await eventually(
      async () =>
        (
          await post(
            `${base}/api/actions/resume`,
            { kind: 'GitRepository', name: 'private' },
            { 'x-kedge-request': '1' },
          )
        ).status === 200,
    );
    const list = await call(`${base}/api/objects`);
    bodies.push(list.body);
    const { objects } = JSON.parse(list.body) as {
      objects: Array<{ kind: string; namespace: string; name: string }>;
    };
    expect(objects.map((o) => `${o.kind}/${o.name}`).sort()).toEqual([
      'GitRepository/private',
      'Kustomization/apps',
      'Provider/chat',
    ]);
    for (const o of objects) {
      const page = await call(`${base}/api/objects/${o.kind}/${o.namespace}/${o.name}`);
      expect(page.status).toBe(200);
      bodies.push(page.body);
    }
    const git = JSON.parse(bodies[objects.findIndex((o) => o.kind === 'GitRepository') + 1]!) as {
      url: string;
      spec: { url: string; secretRef: { name: string } };
    };
    expect(git.url).toBe('https://127.0.0.1:1/repo.git');
    expect(git.spec.secretRef.name).toBe('creds');
    expect((await call(`${base}/api/objects/Secret/default/creds`)).status).toBe(404);
    expect((await call(`${base}/api/objects/ConfigMap/default/creds`)).status).toBe(404);
    const streamed = await stream;
    expect(streamed.headers['content-type']).toBe('text/event-stream');
    expect(streamed.body).toContain('event: changes');
    bodies.push(streamed.body);
    for (const body of bodies) for (const secret of SECRET_VALUES) expect(body).not.toContain(secret);
  });
});
