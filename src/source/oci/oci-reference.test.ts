import { describe, expect, it } from 'vitest';
import { OciReferenceError, isLocalRegistry, parseOciUrl } from './oci-reference.ts';

describe('parseOciUrl', () => {
  it.each([
    ['oci://ghcr.io/org/app', { registry: 'ghcr.io', repository: 'org/app' }],
    ['oci://127.0.0.1:5000/a/b/c:v1.2.3', { registry: '127.0.0.1:5000', repository: 'a/b/c', tag: 'v1.2.3' }],
    [
      'oci://localhost/app@sha256:' + 'a'.repeat(64),
      { registry: 'localhost', repository: 'app', digest: 'sha256:' + 'a'.repeat(64) },
    ],
    ['oci://nginx', { registry: 'registry-1.docker.io', repository: 'library/nginx' }],
    [
      'oci://stefanprodan/podinfo:6.1.6',
      { registry: 'registry-1.docker.io', repository: 'stefanprodan/podinfo', tag: '6.1.6' },
    ],
  ])('%s', (url, expected) => {
    expect(parseOciUrl(url)).toEqual(expected);
  });

  it.each([
    ['https://ghcr.io/org/app', {}, "URL must be in format 'oci://<domain>/<org>/<repo>'"],
    ['oci://ghcr.io/org/app:v1', { allowReference: false }, "URL must not contain a tag; remove ':v1'"],
    [
      'oci://ghcr.io/org/app@sha256:' + 'b'.repeat(64),
      { allowReference: false },
      'URL must not contain a digest',
    ],
    ['oci://ghcr.io/Org/app', {}, "invalid repository 'Org/app'"],
    ['oci://ghcr.io/org/app:-bad', {}, "invalid tag '-bad'"],
    ['oci://ghcr.io/org/app@sha256:abc', {}, "invalid digest 'sha256:abc'"],
    ['oci://ghcr.io/', {}, "invalid repository ''"],
  ])('refuses %s', (url, options, message) => {
    expect(() => parseOciUrl(url, options)).toThrow(OciReferenceError);
    expect(() => parseOciUrl(url, options)).toThrow(message);
  });
});

describe('isLocalRegistry', () => {
  it.each([
    ['127.0.0.1:5000', true],
    ['localhost:5000', true],
    ['[::1]:5000', true],
    ['192.168.1.10', true],
    ['registry.local', true],
    ['ghcr.io', false],
    ['172.32.0.1', false],
  ])('%s → %s', (registry, local) => expect(isLocalRegistry(registry)).toBe(local));
});
