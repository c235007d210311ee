import { createPublicKey, verify, type JsonWebKey, type KeyObject } from 'node:crypto';
import { ReceiverValidationError } from './receiver-request.ts';

/** Google's public keys for the ID tokens it signs (JWKS). */
export const GOOGLE_CERTS_URL = 'https://www.googleapis.com/oauth2/v3/certs';

const ISSUERS = new Set(['accounts.google.com', 'https://accounts.google.com']);
/** Clock skew tolerated on `exp` and `iat`. */
const SKEW_SECONDS = 30;
/** Unknown key ids refetch the keys at most this often, so forged tokens cannot make Kedge hammer Google. */
const REFRESH_FLOOR_MS = 60_000;

/** The claims of a verified Google ID token that Flux's GCR receiver checks. */
export interface GoogleIdClaims {
  iss: string;
  aud: string | string[];
  email?: string;
  email_verified?: boolean;
  exp: number;
  iat?: number;
}

/** One part (header or payload) of a JWT as JSON. Throws ReceiverValidationError naming `what`. */
export function decodePart(part: string, what: string): Record<string, unknown> {
  try {
    return JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new ReceiverValidationError(`invalid ID token: the ${what} is not base64url JSON`);
  }
}

/**
 * Verifies Google-signed OIDC ID tokens (RS256) as Flux's GCR receiver does: signature against Google's
 * published keys, audience, expiry, issuer `accounts.google.com`. Keys are cached; an unknown key id
 * refreshes them at most once a minute.
 */
export class GoogleIdTokenVerifier {
  private keys = new Map<string, KeyObject>();
  private fetchedAt = 0;

  constructor(
    private readonly certsUrl = GOOGLE_CERTS_URL,
    private readonly timeoutMs = 10_000,
  ) {}

  async verify(token: string, audience: string, now = Date.now()): Promise<GoogleIdClaims> {
    const parts = token.split('.');
    if (parts.length !== 3) throw new ReceiverValidationError('invalid ID token: not a JWT');
    const [head, body, signature] = parts as [string, string, string];
    const header = decodePart(head, 'header');
    if (header.alg !== 'RS256' || typeof header.kid !== 'string')
      throw new ReceiverValidationError('invalid ID token: expected an RS256 token with a key id');
    const claims = decodePart(body, 'payload') as unknown as GoogleIdClaims;
    const key = await this.key(header.kid, now);
    if (!key || !verify('sha256', Buffer.from(`${head}.${body}`), key, Buffer.from(signature, 'base64url'))) {
      throw new ReceiverValidationError('invalid ID token: bad signature');
    }
    const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (!audiences.includes(audience))
      throw new ReceiverValidationError(
        `invalid ID token: audience is '${audiences.join(',')}', want '${audience}'`,
      );
    const seconds = now / 1000;
    if (typeof claims.exp !== 'number' || claims.exp + SKEW_SECONDS < seconds)
      throw new ReceiverValidationError('invalid ID token: expired');
    if (typeof claims.iat === 'number' && claims.iat - SKEW_SECONDS > seconds)
      throw new ReceiverValidationError('invalid ID token: issued in the future');
    if (!ISSUERS.has(claims.iss))
      throw new ReceiverValidationError(
        `invalid ID token: issuer is '${String(claims.iss)}', want 'accounts.google.com'`,
      );
    return claims;
  }

  private async key(kid: string, now: number): Promise<KeyObject | undefined> {
    if (!this.keys.has(kid) && now - this.fetchedAt >= REFRESH_FLOOR_MS) {
      this.fetchedAt = now;
      this.keys = await this.fetchKeys();
    }
    return this.keys.get(kid);
  }

  private async fetchKeys(): Promise<Map<string, KeyObject>> {
    let jwks: { keys?: Array<JsonWebKey & { kid?: string }> };
    try {
      const response = await fetch(this.certsUrl, { signal: AbortSignal.timeout(this.timeoutMs) });
      if (!response.ok) throw new Error(`status ${response.status}`);
      jwks = (await response.json()) as typeof jwks;
    } catch (error) {
      this.fetchedAt = 0;
      throw new Error(
        `cannot fetch Google's ID token keys from ${new URL(this.certsUrl).host}: ${(error as Error).message}`,
        { cause: error },
      );
    }
    const keys = new Map<string, KeyObject>();
    for (const jwk of jwks.keys ?? []) {
      if (jwk.kid && jwk.kty === 'RSA') keys.set(jwk.kid, createPublicKey({ key: jwk, format: 'jwk' }));
    }
    return keys;
  }
}
