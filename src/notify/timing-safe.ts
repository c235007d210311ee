import { createHmac, timingSafeEqual } from 'node:crypto';

/** Compares two secrets in constant time (for equal lengths); different lengths are simply unequal. */
export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** True when `signature` (hex) is the HMAC of `body` with `key` under `algorithm`, compared in constant time. */
export function hmacMatches(algorithm: string, key: string, body: Buffer, signature: string): boolean {
  const expected = createHmac(algorithm, key).update(body).digest('hex');
  return safeEqual(expected, signature.toLowerCase());
}
