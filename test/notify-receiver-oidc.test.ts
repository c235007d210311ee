import { createSign, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ObjectRef } from '../src/api/meta.ts';
import { receiverSpecSchema } from '../src/api/receiver.ts';
import { startReceiverServer } from '../src/notify/receiver-server.ts';
import { webhookPath } from '../src/notify/webhook-path.ts';
import { createLogger } from '../src/runtime/logger.ts';
import { openSqliteStore } from '../src/store/sqlite/sqlite-store.ts';
import { eventually } from './harness/eventually.ts';
import { createRepo } from './harness/git-repo.ts';
import { manifests, startTestEngine } from './notify-endpoint.ts';

// generic-oidc: a real OIDC issuer on loopback (discovery document and JWKS) serving the public halves of
// keys generated here; the tokens are real JWTs signed with the private halves. A good token triggers only
// the resources its claims select; a bad signature, audience, issuer, expiry or a failed validation is
// refused with 400 before any reconcile is requested.

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const forger = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwks = {
  keys: [
    { ...rsa.publicKey.export({ format: 'jwk' }), kid: 'rsa-1', alg: 'RS256', use: 'sig' },
    { ...ec.publicKey.export({ format: 'jwk' }), kid: 'ec-1', alg: 'ES256', use: 'sig' },
  ],
};

function jwt(
  claims: Record<string, unknown>,
  {
    key = rsa.privateKey,
    kid = 'rsa-1',
    alg = 'RS256',
  }: { key?: KeyObject; kid?: string; alg?: string } = {},
): string {
  const head = Buffer.from(JSON.stringify({ alg, kid, typ: 'JWT' })).toString('base64url');
  const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
  const signer = createSign('sha256').update(`${head}.${body}`);
  const signature = alg === 'ES256' ? signer.sign({ key, dsaEncoding: 'ieee-p1363' }) : signer.sign(key);
  return `${head}.${body}.${signature.toString('base64url')}`;
}

function post(base: string, path: string, body: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${base}${path}`,
      { method: 'POST', headers: { 'content-type': 'application/json', ...headers } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

let issuerServer: Server;
let issuer = '';
const issuerRequests: string[] = [];
let repoRoot: string;
beforeAll(async () => {
  issuerServer = createServer((req, res) => {
    issuerRequests.push(req.url ?? '');
    if (req.url === '/.well-known/openid-configuration') {
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ issuer, jwks_uri: `${issuer}/keys` }));
    } else if (req.url === '/keys') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(jwks));
    } else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => issuerServer.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(issuerServer.address() as AddressInfo).port}`;
  repoRoot = dirname(createRepo({ files: { 'a.yaml': 'a: 1\n' } }).dir);
});
afterAll(async () => {
  await new Promise((resolve) => issuerServer.close(resolve));
  rmSync(repoRoot, { recursive: true, force: true });
});

const now = () => Math.floor(Date.now() / 1000);
const claims = (over: Record<string, unknown> = {}) => ({
  iss: issuer,
  aud: 'kedge-hooks',
  sub: 'repo:org/app:ref:refs/heads/main',
  repository: 'org/app',
  target: 'app',
  iat: now(),
  exp: now() + 600,
  ...over,
});

const oidcReceiver = (extra: Record<string, unknown> = {}) => ({
  type: 'generic-oidc',
  oidcProviders: [
    {
      issuerURL: issuer,
      audience: 'kedge-hooks',
      variables: [{ name: 'owner', expression: "claims.repository.split('/')[0]" }],
      validations: [
        { expression: "vars.owner == 'org'", message: 'the token is not from the org organisation' },
      ],
    },
  ],
  resources: [{ kind: 'GitRepository', name: '*' }],
  resourceFilter: 'res.metadata.name == claims.target',
  ...extra,
});

describe('generic-oidc receiver', () => {
  it('verifies the token against the issuer keys, then its validations, and filters resources on its claims', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'kedge-oidc-'));
    const store = await openSqliteStore(dataDir);
    const enqueued: ObjectRef[] = [];
    const server = await startReceiverServer({
      address: { host: '127.0.0.1', port: 0 },
      store,
      log: createLogger({ level: 'silent', format: 'json' }),
      enqueue: (ref) => enqueued.push(ref),
      failureRatePerSecond: 100,
    });
    try {
      await store.apply(manifests.gitRepository('app', `file://${repoRoot}/repo`));
      await store.apply(manifests.gitRepository('other', `file://${repoRoot}/repo`));
      await store.apply(manifests.receiver('oidc', oidcReceiver()));
      const path = webhookPath('', 'oidc', 'default');
      await store.updateStatus(
        { kind: 'Receiver', namespace: 'default', name: 'oidc' },
        { webhookPath: path },
      );
      const requestedAt = async (name: string) =>
        (await store.get({ kind: 'GitRepository', namespace: 'default', name }))?.metadata.annotations?.[
          'reconcile.fluxcd.io/requestedAt'
        ];

      // An issuer the Receiver does not trust is refused before anything is fetched.
      expect(
        await post(server.url, path, '{}', {
          authorization: `Bearer ${jwt(claims({ iss: 'https://evil.example' }))}`,
        }),
      ).toBe(400);
      expect(issuerRequests).toEqual([]);

      const refused: Array<Record<string, string>> = [
        {},
        { authorization: 'Basic dXNlcjpwYXNz' },
        { authorization: 'Bearer not-a-jwt' },
        { authorization: `Bearer ${jwt(claims(), { key: forger.privateKey })}` },
        { authorization: `Bearer ${jwt(claims(), { kid: 'unknown-key' })}` },
        { authorization: `Bearer ${jwt(claims({ aud: 'notification-controller' }))}` },
        { authorization: `Bearer ${jwt(claims({ exp: now() - 3600 }))}` },
        { authorization: `Bearer ${jwt(claims({ repository: 'mallory/app' }))}` },
        { authorization: `Bearer ${jwt(claims(), { alg: 'none' })}` },
      ];
      for (const headers of refused) expect(await post(server.url, path, '{}', headers)).toBe(400);
      expect(await requestedAt('app')).toBeUndefined();
      expect(enqueued).toEqual([]);
      // The keys were fetched once: refused tokens (even with an unknown key id) do not refetch them.
      expect(issuerRequests).toEqual(['/.well-known/openid-configuration', '/keys']);

      expect(await post(server.url, path, '{}', { authorization: `Bearer ${jwt(claims())}` })).toBe(200);
      expect(await requestedAt('app')).toBeDefined();
      expect(await requestedAt('other')).toBeUndefined();
      expect(enqueued).toEqual([{ kind: 'GitRepository', namespace: 'default', name: 'app' }]);

      // An ES256 token of the same issuer, whose claims select the other repository.
      expect(
        await post(server.url, path, '{}', {
          authorization: `Bearer ${jwt(claims({ target: 'other' }), { key: ec.privateKey, kid: 'ec-1', alg: 'ES256' })}`,
        }),
      ).toBe(200);
      expect(await requestedAt('other')).toBeDefined();
      expect(enqueued).toHaveLength(2);
    } finally {
      await server.close();
      await store.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('the audience defaults to notification-controller', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'kedge-oidc-'));
    const store = await openSqliteStore(dataDir);
    const server = await startReceiverServer({
      address: { host: '127.0.0.1', port: 0 },
      store,
      log: createLogger({ level: 'silent', format: 'json' }),
      enqueue: () => undefined,
      failureRatePerSecond: 100,
    });
    try {
      await store.apply(manifests.gitRepository('app', `file://${repoRoot}/repo`));
      const spec = oidcReceiver();
      delete (spec.oidcProviders as Array<Record<string, unknown>>)[0]!.audience;
      await store.apply(manifests.receiver('default-aud', spec));
      const path = webhookPath('', 'default-aud', 'default');
      await store.updateStatus(
        { kind: 'Receiver', namespace: 'default', name: 'default-aud' },
        { webhookPath: path },
      );
      expect(await post(server.url, path, '{}', { authorization: `Bearer ${jwt(claims())}` })).toBe(400);
      expect(
        await post(server.url, path, '{}', {
          authorization: `Bearer ${jwt(claims({ aud: ['x', 'notification-controller'] }))}`,
        }),
      ).toBe(200);
    } finally {
      await server.close();
      await store.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('the spec rules of Flux: oidcProviders and validations required, no secretRef, claims only for generic-oidc', () => {
    const problems = (spec: Record<string, unknown>) => {
      const result = receiverSpecSchema.safeParse(spec);
      return result.success ? [] : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    };
    expect(problems(oidcReceiver())).toEqual([]);
    expect(problems(oidcReceiver({ secretRef: { name: 's' } }))).toEqual([
      'secretRef: secretRef cannot be set when type is generic-oidc',
    ]);
    expect(problems(oidcReceiver({ oidcProviders: [] }))).toEqual([
      'oidcProviders: generic-oidc receivers must define at least one oidcProvider',
    ]);
    expect(problems(oidcReceiver({ oidcProviders: [{ issuerURL: issuer, validations: [] }] }))[0]).toMatch(
      /^oidcProviders\.0\.validations: at least one validation is required/,
    );
    expect(
      problems(
        oidcReceiver({
          oidcProviders: [{ issuerURL: 'ftp://x', validations: [{ expression: 'true', message: 'm' }] }],
        }),
      ),
    ).toEqual(['oidcProviders.0.issuerURL: must start with http:// or https://']);
    expect(
      problems(
        oidcReceiver({
          oidcProviders: [
            { issuerURL: issuer, validations: [{ expression: "res.metadata.name == 'x'", message: 'm' }] },
          ],
        }),
      )[0],
    ).toMatch(/^oidcProviders\.0\.validations\.0\.expression: invalid CEL expression 'res\.metadata/);
    expect(
      problems({
        type: 'generic',
        secretRef: { name: 's' },
        resources: [{ kind: 'GitRepository', name: '*' }],
        resourceFilter: 'claims.sub == "x"',
      })[0],
    ).toMatch(/^resourceFilter: invalid CEL expression/);
    expect(problems({ type: 'generic', resources: [{ kind: 'GitRepository', name: '*' }] })).toEqual([
      'secretRef: secretRef is required when type is not generic-oidc',
    ]);
  });

  it('the engine gives a generic-oidc Receiver the path of an empty token, with no Secret', async () => {
    const { engine, dispose } = await startTestEngine();
    try {
      await engine.store.apply(manifests.receiver('oidc', oidcReceiver()));
      const path = await eventually(
        async () =>
          (
            (await engine.store.get({ kind: 'Receiver', namespace: 'default', name: 'oidc' }))?.status as
              { webhookPath?: string } | undefined
          )?.webhookPath,
        { what: 'the webhook path' },
      );
      expect(path).toBe(webhookPath('', 'oidc', 'default'));
    } finally {
      await dispose();
    }
  });
});
