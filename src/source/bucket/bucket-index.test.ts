import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { bucketRevision } from './bucket-index.ts';
import { confinedPath } from './download-bucket.ts';

describe('bucketRevision', () => {
  it("is sha256 over '<key> <etag>' lines in Go's bytewise key order, not JavaScript's UTF-16 order", () => {
    // U+FF5E is EF BD 9E in UTF-8 and sorts before the 4-byte emoji; in UTF-16 the emoji's surrogate sorts first.
    const index = new Map([
      ['\u{1F600}.yaml', 'e2'],
      ['\uFF5E.yaml', 'e1'],
      ['B.yaml', 'e0'],
    ]);
    const lines = 'B.yaml e0\n\uFF5E.yaml e1\n\u{1F600}.yaml e2\n';
    expect(bucketRevision(index)).toBe(`sha256:${createHash('sha256').update(lines).digest('hex')}`);
  });

  it('changes when an ETag changes and not when insertion order does', () => {
    const a = bucketRevision(
      new Map([
        ['x', '1'],
        ['y', '2'],
      ]),
    );
    expect(
      bucketRevision(
        new Map([
          ['y', '2'],
          ['x', '1'],
        ]),
      ),
    ).toBe(a);
    expect(
      bucketRevision(
        new Map([
          ['x', '1'],
          ['y', '3'],
        ]),
      ),
    ).not.toBe(a);
  });
});

describe('confinedPath', () => {
  it('keeps every object key inside the download directory', () => {
    expect(confinedPath('/d', 'apps/a.yaml')).toBe('/d/apps/a.yaml');
    expect(confinedPath('/d', '../../etc/passwd')).toBe('/d/etc/passwd');
    expect(confinedPath('/d', '/abs/x')).toBe('/d/abs/x');
    expect(confinedPath('/d', 'a/../../b')).toBe('/d/b');
    expect(confinedPath('/d', '..')).toBeUndefined();
  });
});
