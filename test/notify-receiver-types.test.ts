import { createHmac, createSign, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ObjectRef } from '../src/api/meta.ts';
import type { Engine } from '../src/engine.ts';
import { startReceiverServer } from '../src/notify/receiver-server.ts';
import { webhookPath } from '../src/notify/webhook-path.ts';
import { createLogger } from '../src/runtime/logger.ts';
import { openSqliteStore } from '../src/store/sqlite/sqlite-store.ts';
import { createRepo } from './harness/git-repo.ts';
import { eventually } from './harness/eventually.ts';
import { manifests, startTestEngine } from './notify-endpoint.ts';

// Registry and event receivers: a request as the real service sends it requests a reconcile; a request
// with a wrong token, signature or payload is refused with 400 and requests nothing.

const TOKEN = 'registry-token-456';

let engine: Engine;
let dispose: () => Promise<void>;
let repoRoot: string;
beforeAll(async () => {
  ({ engine, dispose } = await startTestEngine());
  repoRoot = dirname(createRepo({ files: { 'a.yaml': 'a: 1\n' } }).dir);
  await engine.store.apply(manifests.secret('registry-token', { token: TOKEN }));
});
afterAll(async () => {
  await dispose();
  rmSync(repoRoot, { recursive: true, force: true });
});

async function receiverPath(name: string): Promise<string> {
  return eventually(
    async () => {
      const r = await engine.store.get({ kind: 'Receiver', namespace: 'default', name });
      return (r?.status as { webhookPath?: string } | undefined)?.webhookPath;
    },
    { what: `Receiver ${name} webhookPath` },
  );
}

async function requestedAt(name: string): Promise<string | undefined> {
  const object = await engine.store.get({ kind: 'GitRepository', namespace: 'default', name });
  return object?.metadata.annotations?.['reconcile.fluxcd.io/requestedAt'];
}

/**
 * POSTs from a chosen loopback address (any of 127.0.0.0/8 works on Linux), so that each case's refused
 * requests have their own per-address budget and are answered 400, never 429.
 */
function post(
  base: string,
  path: string,
  body: string,
  headers: Record<string, string>,
  localAddress = '127.0.0.1',
): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${base}${path}`,
      { method: 'POST', localAddress, headers: { 'content-type': 'application/json', ...headers } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
let nextAddress = 20;

const dockerHubPush = JSON.stringify({
  push_data: { tag: 'v1.2.3', pusher: 'me' },
  repository: { repo_url: 'https://hub.docker.com/r/org/app', repo_name: 'org/app' },
});
const quayPush = JSON.stringify({
  repository: 'org/app',
  docker_url: 'quay.io/org/app',
  updated_tags: ['v1.2.3'],
});
const acrPush = JSON.stringify({
  id: '1',
  action: 'push',
  target: { repository: 'app', tag: 'v1.2.3', digest: 'sha256:abc' },
  request: { host: 'org.azurecr.io' },
});
const harborPush = JSON.stringify({ type: 'PUSH_ARTIFACT', event_data: { resources: [{ tag: 'v1.2.3' }] } });
const nexusEvent = JSON.stringify({
  action: 'CREATED',
  repositoryName: 'docker-hosted',
  component: { name: 'app', version: 'v1.2.3' },
});
const nexusSignature = createHmac('sha1', TOKEN).update(nexusEvent).digest('hex');
const cdevent = (type = 'dev.cdevents.artifact.published.0.2.0') =>
  JSON.stringify({
    context: {
      specversion: '0.4.1',
      id: '271069a8-fc18-44f1-b38f-9d70a1695819',
      source: '/ci/pipeline',
      type,
      timestamp: '2026-01-02T03:04:05Z',
    },
    subject: { id: 'pkg:oci/app@sha256:abc', content: {} },
  });

describe('registry and CDEvents receivers', () => {
  it.each<{
    type: string;
    events?: string[];
    good: [string, Record<string, string>];
    bad: Array<[string, Record<string, string>]>;
  }>([
    {
      type: 'harbor',
      good: [harborPush, { authorization: TOKEN }],
      bad: [
        [harborPush, { authorization: 'wrong' }],
        [harborPush, {}],
      ],
    },
    {
      type: 'dockerhub',
      good: [dockerHubPush, {}],
      bad: [
        ['not json', {}],
        [JSON.stringify({ push_data: { tag: 7 } }), {}],
      ],
    },
    {
      type: 'quay',
      good: [quayPush, {}],
      bad: [
        ['{', {}],
        [JSON.stringify({ updated_tags: 'v1' }), {}],
      ],
    },
    { type: 'acr', good: [acrPush, {}], bad: [['[]', {}]] },
    {
      type: 'nexus',
      good: [nexusEvent, { 'x-nexus-webhook-signature': nexusSignature }],
      bad: [
        [nexusEvent, {}],
        [
          nexusEvent,
          { 'x-nexus-webhook-signature': createHmac('sha1', 'other').update(nexusEvent).digest('hex') },
        ],
        [nexusEvent.replace('CREATED', 'DELETED'), { 'x-nexus-webhook-signature': nexusSignature }],
      ],
    },
    {
      type: 'cdevents',
      events: ['dev.cdevents.artifact.published.0.2.0'],
      good: [cdevent(), { 'ce-type': 'dev.cdevents.artifact.published.0.2.0' }],
      bad: [
        [cdevent(), { 'ce-type': 'dev.cdevents.pipelinerun.started.0.2.0' }],
        [cdevent('artifact.published'), { 'ce-type': 'dev.cdevents.artifact.published.0.2.0' }],
        [JSON.stringify({ context: {} }), { 'ce-type': 'dev.cdevents.artifact.published.0.2.0' }],
      ],
    },
  ])(
    '$type: refused requests trigger nothing; the real one requests a reconcile',
    async ({ type, events, good, bad }) => {
      const target = `target-${type}`;
      await engine.store.apply(manifests.gitRepository(target, `file://${repoRoot}/repo`));
      await engine.store.apply(
        manifests.receiver(`r-${type}`, {
          type,
          ...(events ? { events } : {}),
          secretRef: { name: 'registry-token' },
          resources: [{ kind: 'GitRepository', name: target }],
        }),
      );
      const path = await receiverPath(`r-${type}`);
      const from = `127.0.0.${nextAddress++}`;
      for (const [body, headers] of bad)
        expect(await post(engine.receiverUrl, path, body, headers, from)).toBe(400);
      expect(await requestedAt(target)).toBeUndefined();
      expect(await post(engine.receiverUrl, path, good[0], good[1])).toBe(200);
      expect(await requestedAt(target)).toBeDefined();
    },
  );
});

describe('gcr receiver', () => {
  it('a GCR Receiver whose secret lacks email and audience is not Ready, and says which keys', async () => {
    await engine.store.apply(
      manifests.receiver('gcr-incomplete', {
        type: 'gcr',
        secretRef: { name: 'registry-token' },
        resources: [{ kind: 'GitRepository', name: 'x' }],
      }),
    );
    const ready = await eventually(
      async () => {
        const r = await engine.store.get({ kind: 'Receiver', namespace: 'default', name: 'gcr-incomplete' });
        return (
          r?.status as { conditions?: Array<{ type: string; status: string; message: string }> } | undefined
        )?.conditions?.find((c) => c.type === 'Ready');
      },
      { what: 'the Ready condition' },
    );
    expect(ready).toMatchObject({
      status: 'False',
      message: expect.stringContaining("has no 'email', 'audience' keys") as unknown,
    });
  });

  // A stand-in for Google's key endpoint serving the public half of a key generated here; the tokens are
  // real RS256 JWTs signed with its private half, verified exactly as Google-signed ones are.
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'key-1', alg: 'RS256', use: 'sig' };
  const jwt = (claims: Record<string, unknown>, kid = 'key-1') => {
    const head = Buffer.from(JSON.stringify({ alg: 'RS256', kid, typ: 'JWT' })).toString('base64url');
    const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
    const signature = createSign('sha256').update(`${head}.${body}`).sign(privateKey).toString('base64url');
    return `${head}.${body}.${signature}`;
  };
  const now = () => Math.floor(Date.now() / 1000);
  const claims = (over: Record<string, unknown> = {}) => ({
    iss: 'https://accounts.google.com',
    aud: 'https://kedge.example/hook',
    email: 'pubsub-push@project.iam.gserviceaccount.com',
    email_verified: true,
    iat: now(),
    exp: now() + 3600,
    ...over,
  });
  const pubsub = (event: Record<string, unknown>) =>
    JSON.stringify({
      message: {
        data: Buffer.from(JSON.stringify(event)).toString('base64'),
        messageId: '1',
        publishTime: '2026-01-02T03:04:05Z',
      },
      subscription: 'projects/p/subscriptions/s',
    });
  const push = pubsub({ action: 'INSERT', digest: 'gcr.io/p/app@sha256:abc', tag: 'gcr.io/p/app:v1' });

  let keys: Server;
  let keyRequests = 0;
  let dataDir: string;
  beforeAll(async () => {
    keys = createServer((_req, res) => {
      keyRequests++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((resolve) => keys.listen(0, '127.0.0.1', resolve));
    dataDir = mkdtempSync(join(tmpdir(), 'kedge-gcr-'));
  });
  afterAll(async () => {
    await new Promise((resolve) => keys.close(resolve));
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('verifies the ID token, issuer, audience and email before requesting a reconcile', async () => {
    const store = await openSqliteStore(dataDir);
    const enqueued: ObjectRef[] = [];
    const server = await startReceiverServer({
      address: { host: '127.0.0.1', port: 0 },
      store,
      log: createLogger({ level: 'silent', format: 'json' }),
      enqueue: (ref) => enqueued.push(ref),
      googleCertsUrl: `http://127.0.0.1:${(keys.address() as AddressInfo).port}/oauth2/v3/certs`,
      failureRatePerSecond: 100,
    });
    try {
      await store.apply(
        manifests.secret('gcr', {
          token: TOKEN,
          email: 'pubsub-push@project.iam.gserviceaccount.com',
          audience: 'https://kedge.example/hook',
        }),
      );
      await store.apply(manifests.gitRepository('images', `file://${repoRoot}/repo`));
      await store.apply(
        manifests.receiver('gcr', {
          type: 'gcr',
          secretRef: { name: 'gcr' },
          resources: [{ kind: 'GitRepository', name: 'images' }],
        }),
      );
      const path = webhookPath(TOKEN, 'gcr', 'default');
      await store.updateStatus(
        { kind: 'Receiver', namespace: 'default', name: 'gcr' },
        { webhookPath: path },
      );
      const annotated = async () =>
        (await store.get({ kind: 'GitRepository', namespace: 'default', name: 'images' }))?.metadata
          .annotations?.['reconcile.fluxcd.io/requestedAt'];

      const refused: Array<[string, Record<string, string>]> = [
        [push, {}],
        [push, { authorization: `Bearer ${jwt(claims({ aud: 'https://other.example' }))}` }],
        [push, { authorization: `Bearer ${jwt(claims({ iss: 'https://evil.example' }))}` }],
        [push, { authorization: `Bearer ${jwt(claims({ email: 'someone@else.example' }))}` }],
        [push, { authorization: `Bearer ${jwt(claims({ email_verified: false }))}` }],
        [push, { authorization: `Bearer ${jwt(claims({ exp: now() - 3600 }))}` }],
        [
          push,
          {
            authorization: `Bearer ${jwt(claims()).replace(/\.[^.]+$/, '.' + Buffer.from('forged').toString('base64url'))}`,
          },
        ],
        [push, { authorization: `Bearer ${jwt(claims(), 'unknown-key')}` }],
        [
          JSON.stringify({ message: { data: 'not base64 json!' } }),
          { authorization: `Bearer ${jwt(claims())}` },
        ],
      ];
      for (const [body, headers] of refused) expect(await post(server.url, path, body, headers)).toBe(400);
      expect(await annotated()).toBeUndefined();
      expect(enqueued).toEqual([]);
      // The unknown key id did not make every refused request refetch the keys.
      expect(keyRequests).toBe(1);

      expect(await post(server.url, path, push, { authorization: `Bearer ${jwt(claims())}` })).toBe(200);
      expect(await annotated()).toBeDefined();
      expect(enqueued).toEqual([{ kind: 'GitRepository', namespace: 'default', name: 'images' }]);
    } finally {
      await server.close();
      await store.close();
    }
  });
});
