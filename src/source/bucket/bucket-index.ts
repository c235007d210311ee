import { createHash } from 'node:crypto';
import ignore from 'ignore';
import { parsePatterns, SOURCE_IGNORE_FILE } from '../artifact/source-ignore.ts';
import type { S3Client } from './s3-client.ts';
import { BucketError } from './s3-client.ts';

/** Object key → ETag of everything a Bucket's artifact is made of. */
export type BucketIndex = Map<string, string>;

const IGNORE_FILE_LIMIT = 1024 * 1024;

/**
 * Lists the bucket as Flux's source-controller does: the bucket must exist; `.sourceignore` at the bucket's
 * root and then `spec.ignore` give the exclusions (no default patterns for buckets); keys ending in `/` and
 * the ignore file itself are left out. Returns the index and the root ignore file's text, if any.
 */
export async function indexBucket(
  client: S3Client,
  bucketName: string,
  options: { prefix?: string; ignore?: string },
): Promise<{ index: BucketIndex; sourceIgnore?: string }> {
  if (!(await client.bucketExists()))
    throw new BucketError(`bucket '${bucketName}' not found`, 'NoSuchBucket');
  const sourceIgnore = await client.readText(SOURCE_IGNORE_FILE, IGNORE_FILE_LIMIT);
  const patterns = [...parsePatterns(sourceIgnore ?? ''), ...parsePatterns(options.ignore ?? '')];
  const matcher = ignore({ ignorecase: false }).add(patterns);
  const index: BucketIndex = new Map();
  await client.listObjects(options.prefix ?? '', (key, etag) => {
    if (key.endsWith('/') || key === SOURCE_IGNORE_FILE || key === '') return;
    if (patterns.length > 0 && ignoredKey(matcher, key)) return;
    index.set(key, etag);
  });
  return { index, sourceIgnore };
}

/** gitignore matching of an object key; keys that are not valid relative paths for the matcher are kept. */
function ignoredKey(matcher: ReturnType<typeof ignore>, key: string): boolean {
  const relative = key.replace(/^\/+/, '');
  if (relative === '' || relative.split('/').some((part) => part === '..' || part === '.')) return false;
  return matcher.ignores(relative);
}

/**
 * Flux's Bucket revision: `sha256:` + the SHA-256 of one line `<key> <etag>\n` per object, keys sorted
 * bytewise (as Go sorts strings).
 */
export function bucketRevision(index: BucketIndex): string {
  const hash = createHash('sha256');
  for (const key of sortedKeys(index)) hash.update(`${key} ${index.get(key)}\n`);
  return `sha256:${hash.digest('hex')}`;
}

export function sortedKeys(index: BucketIndex): string[] {
  return [...index.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}
