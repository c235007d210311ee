import { createSign, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A token server as Docker's token authentication specification describes it (what Docker Hub, GHCR and Harbor
 * run in front of their registries), on 127.0.0.1: `GET /token?service=…&scope=repository:<name>:<actions>`
 * answers an ES256 JWT granting the scope to the configured user (HTTP Basic), `pull` only to anonymous
 * callers, and 401 to wrong credentials. The registry trusts its key through a JWKS file (`jwks()`).
 */
export interface RegistryTokenServer {
  /** `http://127.0.0.1:<port>/token`: the registry's `auth.token.realm`. */
  realm: string;
  issuer: string;
  service: string;
  /** The JWKS document with the signing key's public half, for the registry's `auth.token.jwks` file. */
  jwks(): string;
  /** A token for `repository` with `actions`, as the server would issue it (for the harness's own requests). */
  mint(subject: string, repository: string | undefined, actions: string[]): string;
  /** Scopes requested so far, with whether credentials came along. */
  requests: Array<{ scope: string; user: string | undefined }>;
  stop(): Promise<void>;
}

const base64url = (data: Buffer | string) => Buffer.from(data).toString('base64url');

function signJwt(key: KeyObject, kid: string, claims: Record<string, unknown>): string {
  const header = base64url(JSON.stringify({ alg: 'ES256', typ: 'JWT', kid }));
  const payload = base64url(JSON.stringify(claims));
  const signature = createSign('SHA256')
    .update(`${header}.${payload}`)
    .sign({ key, dsaEncoding: 'ieee-p1363' });
  return `${header}.${payload}.${base64url(signature)}`;
}

export async function startRegistryTokenServer(user: {
  username: string;
  password: string;
}): Promise<RegistryTokenServer> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const kid = randomBytes(8).toString('hex');
  const issuer = 'kedge-test-token-issuer';
  const service = 'kedge-test-registry';
  const requests: RegistryTokenServer['requests'] = [];
  const mint: RegistryTokenServer['mint'] = (subject, repository, actions) => {
    const now = Math.floor(Date.now() / 1000);
    return signJwt(privateKey, kid, {
      iss: issuer,
      sub: subject,
      aud: service,
      iat: now,
      nbf: now - 10,
      exp: now + 300,
      jti: randomBytes(8).toString('hex'),
      access: repository ? [{ type: 'repository', name: repository, actions }] : [],
    });
  };
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const header = req.headers.authorization;
    let subject: string | undefined;
    if (header?.startsWith('Basic ')) {
      const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
      if (decoded !== `${user.username}:${user.password}`) {
        res
          .writeHead(401, { 'content-type': 'application/json' })
          .end('{"details":"invalid username or password"}');
        return;
      }
      subject = user.username;
    }
    const scope = url.searchParams.get('scope') ?? '';
    requests.push({ scope, user: subject });
    const [, repository, wanted = ''] = /^repository:([^:]+):(.*)$/.exec(scope) ?? [];
    const granted = wanted.split(',').filter((a) => a !== '' && (subject !== undefined || a === 'pull'));
    const token = mint(subject ?? '', repository, granted);
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ token, expires_in: 300 }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    realm: `http://127.0.0.1:${port}/token`,
    issuer,
    service,
    jwks: () =>
      JSON.stringify({ keys: [{ ...publicKey.export({ format: 'jwk' }), kid, use: 'sig', alg: 'ES256' }] }),
    mint,
    requests,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
