import { describe, expect, it } from 'vitest';
import { parseAuthChallenge } from './auth-challenge.ts';

describe('parseAuthChallenge', () => {
  it.each([
    [
      'Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:org/app:pull"',
      {
        scheme: 'bearer',
        params: { realm: 'https://ghcr.io/token', service: 'ghcr.io', scope: 'repository:org/app:pull' },
      },
    ],
    [
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:a/b:pull,push"',
      {
        scheme: 'bearer',
        params: {
          realm: 'https://auth.docker.io/token',
          service: 'registry.docker.io',
          scope: 'repository:a/b:pull,push',
        },
      },
    ],
    ['Basic realm="kedge-test"', { scheme: 'basic', params: { realm: 'kedge-test' } }],
    [
      'Bearer realm=https://x/token, error=insufficient_scope',
      { scheme: 'bearer', params: { realm: 'https://x/token', error: 'insufficient_scope' } },
    ],
  ])('%s', (header, expected) => expect(parseAuthChallenge(header)).toEqual(expected));

  it('is undefined without a header', () => expect(parseAuthChallenge(undefined)).toBeUndefined());
});
