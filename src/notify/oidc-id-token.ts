import { createPublicKey, verify, type JsonWebKey, type KeyObject } from 'node:crypto';
import { decodePart } from './google-id-token.ts';
import { ReceiverValidationError } from './receiver-request.ts';

/** Clock skew tolerated on `exp`, `iat` and `nbf`. */
const SKEW_SECONDS = 30;
/** Unknown key ids refetch an issuer's keys at most this often, so forged tokens cannot make Kedge hammer it. */
const REFRESH_FLOOR_MS = 60_000;

/** The signing algorithms accepted, with how node:crypto verifies each. */
const ALGORITHMS: Record<string, { hash: string; kty: string; dsaEncoding?: 'ieee-p1363' }> = {
  RS256: { hash: 'sha256', kty: 'RSA' },
  RS384: { hash: 'sha384', kty: 'RSA' },
  RS512: { hash: 'sha512', kty: 'RSA' },
  ES256: { hash: 'sha256', kty: 'EC', dsaEncoding: 'ieee-p1363' },
  ES384: { hash: 'sha384', kty: 'EC', dsaEncoding: 'ieee-p1363' },
};

/** The `iss` claim of a token, read before verification only to pick the issuer to verify it against. */
export function unverifiedIssuer(token: string): string {
  const parts = token.split('.');
  if (parts.length !== 3) throw new ReceiverValidationError('invalid ID token: not a JWT');
  const iss = decodePart(parts[1]!, 'payload').iss;
  if (typeof iss !== 'string' || !iss) throw new ReceiverValidationError("invalid ID token: no 'iss' claim");
  return iss;
}

/**
 * Verifies OIDC ID tokens of one issuer, as Flux's `generic-oidc` receiver does (go-oidc's verifier):
 * the issuer's keys come from its discovery document (`<issuer>/.well-known/openid-configuration`, whose
 * `issuer` must equal the configured one) and its `jwks_uri`; then signature, `iss`, `aud` and expiry.
 * Keys are cached; an unknown key id refreshes them at most once a minute.
 */
export class OidcTokenVerifier {
  private keys = new Map<string, { key: KeyObject; kty: string }>();
  private fetchedAt = 0;

  constructor(
    readonly issuer: string,
    private readonly timeoutMs = 10_000,
  ) {}

  async verify(token: string, audience: string, now = Date.now()): Promise<Record<string, unknown>> {
    const parts = token.split('.');
    if (parts.length !== 3) throw new ReceiverValidationError('invalid ID token: not a JWT');
    const [head, body, signature] = parts as [string, string, string];
    const header = decodePart(head, 'header');
    const algorithm = typeof header.alg === 'string' ? ALGORITHMS[header.alg] : undefined;
    if (!algorithm)
      throw new ReceiverValidationError(
        `invalid ID token: unsupported signing algorithm '${String(header.alg)}'`,
      );
    const claims = decodePart(body, 'payload');
    const key = await this.key(typeof header.kid === 'string' ? header.kid : '', algorithm.kty, now);
    const signed = Buffer.from(`${head}.${body}`);
    const valid =
      key !== undefined &&
      verify(
        algorithm.hash,
        signed,
        algorithm.dsaEncoding ? { key, dsaEncoding: algorithm.dsaEncoding } : key,
        Buffer.from(signature, 'base64url'),
      );
    if (!valid) throw new ReceiverValidationError('invalid ID token: bad signature');
    if (claims.iss !== this.issuer)
      throw new ReceiverValidationError(
        `invalid ID token: issuer is '${String(claims.iss)}', want '${this.issuer}'`,
      );
    const audiences = Array.isArray(claims.aud) ? (claims.aud as unknown[]) : [claims.aud];
    if (!audiences.includes(audience))
      throw new ReceiverValidationError(
        `invalid ID token: audience is '${audiences.map(String).join(',')}', want '${audience}'`,
      );
    const seconds = now / 1000;
    if (typeof claims.exp !== 'number' || claims.exp + SKEW_SECONDS < seconds)
      throw new ReceiverValidationError('invalid ID token: expired');
    if (typeof claims.nbf === 'number' && claims.nbf - SKEW_SECONDS > seconds)
      throw new ReceiverValidationError('invalid ID token: not valid yet');
    if (typeof claims.iat === 'number' && claims.iat - SKEW_SECONDS > seconds)
      throw new ReceiverValidationError('invalid ID token: issued in the future');
    return claims;
  }

  /** The key of `kid` (any key of the right type when the token names none and the issuer has one). */
  private async key(kid: string, kty: string, now: number): Promise<KeyObject | undefined> {
    const find = () => {
      if (kid) return this.keys.get(kid);
      const candidates = [...this.keys.values()].filter((k) => k.kty === kty);
      return candidates.length === 1 ? candidates[0] : undefined;
    };
    if (!find() && now - this.fetchedAt >= REFRESH_FLOOR_MS) {
      this.fetchedAt = now;
      this.keys = await this.fetchKeys();
    }
    const found = find();
    return found?.kty === kty ? found.key : undefined;
  }

  private async fetchKeys(): Promise<Map<string, { key: KeyObject; kty: string }>> {
    try {
      const discovery = (await this.getJson(
        `${this.issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`,
      )) as { issuer?: unknown; jwks_uri?: unknown };
      if (discovery.issuer !== this.issuer)
        throw new Error(`the discovery document names issuer '${String(discovery.issuer)}'`);
      if (typeof discovery.jwks_uri !== 'string') throw new Error('the discovery document has no jwks_uri');
      const jwks = (await this.getJson(discovery.jwks_uri)) as {
        keys?: Array<JsonWebKey & { kid?: string; use?: string }>;
      };
      const keys = new Map<string, { key: KeyObject; kty: string }>();
      for (const [i, jwk] of (jwks.keys ?? []).entries()) {
        if ((jwk.kty !== 'RSA' && jwk.kty !== 'EC') || (jwk.use && jwk.use !== 'sig')) continue;
        keys.set(jwk.kid ?? `#${i}`, { key: createPublicKey({ key: jwk, format: 'jwk' }), kty: jwk.kty });
      }
      return keys;
    } catch (error) {
      this.fetchedAt = 0;
      throw new Error(
        `cannot fetch the ID token keys of issuer ${new URL(this.issuer).host}: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }

  private async getJson(url: string): Promise<unknown> {
    const response = await fetch(url, { signal: AbortSignal.timeout(this.timeoutMs) });
    if (!response.ok)
      throw new Error(`GET ${new URL(url).host}${new URL(url).pathname}: status ${response.status}`);
    return response.json();
  }
}

/** One verifier per issuer URL, so each issuer's keys are fetched and cached once. */
export class OidcVerifiers {
  private readonly byIssuer = new Map<string, OidcTokenVerifier>();

  for(issuer: string): OidcTokenVerifier {
    let verifier = this.byIssuer.get(issuer);
    if (!verifier) {
      if (this.byIssuer.size >= 1000) this.byIssuer.clear();
      verifier = new OidcTokenVerifier(issuer);
      this.byIssuer.set(issuer, verifier);
    }
    return verifier;
  }
}
