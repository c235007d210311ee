import { writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { SOURCE_IGNORE_FILE } from '../artifact/source-ignore.ts';
import type { BucketIndex } from './bucket-index.ts';
import type { S3Client } from './s3-client.ts';

/** Downloads at most this many objects at once (Flux allows 100; a small engine needs fewer sockets). */
const CONCURRENT_DOWNLOADS = 16;

/**
 * Downloads every indexed object into `dir`. An object key is a name, not a path: it is placed under `dir`
 * as a path cleaned from the root (`../x` lands at `dir/x`, as Flux's securejoin places it), so nothing in a
 * bucket writes outside the directory. An object that disappeared since the listing leaves the index; one
 * that changed updates its ETag (the revision is computed after this). Returns the number of files written.
 */
export async function downloadBucket(
  client: S3Client,
  index: BucketIndex,
  dir: string,
  options: { sourceIgnore?: string; signal?: AbortSignal },
): Promise<number> {
  const keys = [...index.keys()];
  let written = 0;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < keys.length) {
      options.signal?.throwIfAborted();
      const key = keys[next++]!;
      const file = confinedPath(dir, key);
      if (!file) {
        index.delete(key);
        continue;
      }
      const etag = await client.download(key, file, options.signal);
      if (etag === undefined) index.delete(key);
      else {
        if (etag !== '' && etag !== index.get(key)) index.set(key, etag);
        written++;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENT_DOWNLOADS, keys.length) }, worker));
  if (options.sourceIgnore !== undefined)
    await writeFile(join(dir, SOURCE_IGNORE_FILE), options.sourceIgnore);
  return written;
}

/** `dir` joined with the key cleaned as an absolute path; undefined when nothing but the root remains. */
export function confinedPath(dir: string, key: string): string | undefined {
  const cleaned = posix.normalize(`/${key}`).replace(/^\/+/, '');
  if (cleaned === '' || cleaned === '.') return undefined;
  return join(dir, ...cleaned.split('/'));
}
