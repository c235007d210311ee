import { createVerify, generateKeyPairSync } from 'node:crypto';
import { rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { dirname } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Condition, KObject } from '../src/api/meta.ts';
import { createRepo, type TestRepo } from './harness/git-repo.ts';
import { startHttpGitServer, type HttpGitServer } from './harness/git-servers.ts';
import { startTestEngine } from './harness/test-engine.ts';

/*
 * GitRepository `provider: github`: a GitHub App's installation token as git credentials, as Flux gets it.
 * The GitHub API here is a real HTTP server on 127.0.0.1 that checks the App's JWT with the App's public key
 * (as GitHub does) and hands out an installation token; the git server only accepts that token.
 */

const APP_ID = '4242';
const INSTALLATION_ID = 77;
const TOKEN = 'ghs_installationTokenOfTheTest0000000000';
const app = generateKeyPairSync('rsa', { modulusLength: 2048 });
const privateKeyPem = app.privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
const publicKeyPem = app.publicKey.export({ type: 'spki', format: 'pem' }).toString();

interface ApiCall {
  method: string;
  path: string;
  jwtValid: boolean;
}

let repo: TestRepo;
let git: HttpGitServer;
let api: Server;
let apiUrl: string;
const calls: ApiCall[] = [];

/** A JWT as GitHub accepts it: RS256 by the App's key, issuer = App ID, at most 10 minutes long. */
function validAppJwt(req: IncomingMessage): boolean {
  const match = /^Bearer ([\w-]+)\.([\w-]+)\.([\w-]+)$/.exec(req.headers.authorization ?? '');
  if (!match) return false;
  const [, header, payload, signature] = match;
  const verified = createVerify('RSA-SHA256')
    .update(`${header}.${payload}`)
    .verify(publicKeyPem, signature!, 'base64url');
  const h = JSON.parse(Buffer.from(header!, 'base64url').toString()) as { alg?: string };
  const p = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as {
    iss?: string;
    iat?: number;
    exp?: number;
  };
  const now = Date.now() / 1000;
  return (
    verified &&
    h.alg === 'RS256' &&
    p.iss === APP_ID &&
    p.iat! <= now &&
    p.exp! > now &&
    p.exp! - p.iat! <= 600
  );
}

beforeAll(async () => {
  repo = createRepo({
    files: { 'deploy/config.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: via-app}\n' },
  });
  git = await startHttpGitServer({
    root: dirname(repo.dir),
    basicAuth: { username: 'x-access-token', password: TOKEN },
  });
  api = createServer((req, res) => {
    const jwtValid = validAppJwt(req);
    calls.push({ method: req.method!, path: req.url!, jwtValid });
    const send = (status: number, body: unknown) =>
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (!jwtValid) return send(401, { message: 'A JSON web token could not be decoded' });
    if (req.method === 'GET' && req.url === '/api/v3/orgs/acme/installation')
      return send(404, { message: 'Not Found' });
    if (req.method === 'GET' && req.url === '/api/v3/users/acme/installation')
      return send(200, { id: INSTALLATION_ID });
    if (req.method === 'POST' && req.url === `/api/v3/app/installations/${INSTALLATION_ID}/access_tokens`)
      return send(201, { token: TOKEN, expires_at: new Date(Date.now() + 3_600_000).toISOString() });
    send(404, { message: 'Not Found' });
  });
  await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
  apiUrl = `http://127.0.0.1:${(api.address() as { port: number }).port}`;
});

afterAll(async () => {
  await git?.stop();
  api?.closeAllConnections();
  await new Promise((resolve) => api?.close(resolve));
  if (repo) rmSync(dirname(repo.dir), { recursive: true, force: true });
});

const ready = (o: KObject | undefined) =>
  (o?.status as { conditions?: Condition[] } | undefined)?.conditions?.find((c) => c.type === 'Ready');

function manifests(name: string, opts: { provider?: string; key?: string; owner?: boolean } = {}): string {
  const key = (opts.key ?? privateKeyPem)
    .trim()
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');
  const installation =
    opts.owner === false
      ? `githubAppInstallationID: "${INSTALLATION_ID}"`
      : 'githubAppInstallationOwner: acme';
  return `
apiVersion: v1
kind: Secret
metadata: {name: ${name}-app, namespace: default}
stringData:
  githubAppID: "${APP_ID}"
  ${installation}
  githubAppBaseURL: ${apiUrl}
  githubAppPrivateKey: |
${key}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: ${name}, namespace: default}
spec:
  interval: 1s
  url: ${git.url(repo.name)}
  ref: {branch: main}
  provider: ${opts.provider ?? 'github'}
  secretRef: {name: ${name}-app}
`;
}

describe('GitRepository provider: github (GitHub App)', () => {
  it('fetches with an installation token found by owner, and reuses the token at later intervals', async () => {
    const t = await startTestEngine();
    try {
      calls.length = 0;
      const before = git.authorizations.length;
      await t.apply(manifests('by-owner'));
      const source = await t.waitForReady({ kind: 'GitRepository', namespace: 'default', name: 'by-owner' });
      expect((source.status as { artifact: { revision: string } }).artifact.revision).toBe(
        `main@sha1:${repo.revParse()}`,
      );
      // Organization first, then user, then the token: each call carried a valid App JWT.
      expect(calls.slice(0, 3)).toEqual([
        { method: 'GET', path: '/api/v3/orgs/acme/installation', jwtValid: true },
        { method: 'GET', path: '/api/v3/users/acme/installation', jwtValid: true },
        {
          method: 'POST',
          path: `/api/v3/app/installations/${INSTALLATION_ID}/access_tokens`,
          jwtValid: true,
        },
      ]);
      const basic = `Basic ${Buffer.from(`x-access-token:${TOKEN}`).toString('base64')}`;
      expect(git.authorizations.slice(before)).toContain(basic);

      // Later intervals (1 s) go back to the git server with the cached token, not to the API.
      const seen = git.authorizations.length;
      await new Promise((resolve) => setTimeout(resolve, 3000));
      expect(git.authorizations.length).toBeGreaterThan(seen);
      expect(calls.filter((c) => c.method === 'POST')).toHaveLength(1);

      const events = JSON.stringify(await t.engine.store.listEvents({}));
      expect(events).not.toContain(TOKEN);
      expect(JSON.stringify(source.status)).not.toContain(TOKEN);
    } finally {
      await t.stop();
    }
  });

  it('says what is wrong: a key GitHub refuses, App data without provider github', async () => {
    const t = await startTestEngine();
    try {
      const other = generateKeyPairSync('rsa', { modulusLength: 2048 })
        .privateKey.export({ type: 'pkcs1', format: 'pem' })
        .toString();
      await t.apply(manifests('wrong-key', { key: other, owner: false }));
      const refused = await t.waitForReady(
        { kind: 'GitRepository', namespace: 'default', name: 'wrong-key' },
        (r) => r.status === 'False',
      );
      expect(ready(refused)?.reason).toBe('AuthenticationFailed');
      expect(ready(refused)?.message).toBe(
        `failed to configure authentication options: failed to create an access token for GitHub App ${APP_ID}, installation ${INSTALLATION_ID}: status 401 (A JSON web token could not be decoded)`,
      );

      await t.apply(manifests('no-provider', { provider: 'generic' }));
      const mismatch = await t.waitForReady(
        { kind: 'GitRepository', namespace: 'default', name: 'no-provider' },
        (r) => r.status === 'False',
      );
      expect(ready(mismatch)?.reason).toBe('InvalidProviderConfiguration');
      expect(ready(mismatch)?.message).toBe(
        "secretRef 'default/no-provider-app' has github app data but provider is not set to github",
      );
    } finally {
      await t.stop();
    }
  });
});
