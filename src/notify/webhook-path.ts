import { createHash } from 'node:crypto';

/** Flux's receiver path: `/hook/` + hex(sha256(token + name + namespace)). Unguessable without the token. */
export function webhookPath(token: string, name: string, namespace: string): string {
  return `/hook/${createHash('sha256').update(`${token}${name}${namespace}`).digest('hex')}`;
}
