import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { lstat, readdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Pack } from 'tar';
import { loadSourceIgnore, type SourceIgnore } from './source-ignore.ts';

/** Digest and size of a written artifact. */
export interface PackedArtifact {
  /** `sha256:<hex>` of the tar.gz file. */
  digest: string;
  size: number;
}

const EPOCH = new Date(0);

/**
 * Writes a gzipped tarball of the regular files under `dir` to `outFile`, leaving out what Flux leaves out
 * (see {@link loadSourceIgnore}; `ignore` is `spec.ignore`), symlinks and other special files. The archive is
 * deterministic: entries sorted, mtime 0, no owner or group, modes 0644 or 0755 (executable bit kept), so
 * its digest depends only on the files' paths, contents and executable bits. Written to a temp file in the
 * same directory and renamed, so readers never see a partial file.
 */
export async function packArtifact(
  dir: string,
  outFile: string,
  opts: { ignore?: string } = {},
): Promise<PackedArtifact> {
  const rules = await loadSourceIgnore(dir, opts.ignore);
  const files = await listFiles(dir, '', rules);
  const temp = join(dirname(outFile), `.${basename(outFile)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeTarball(dir, files, temp);
    const packed = await digestFile(temp);
    await rename(temp, outFile);
    return packed;
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

/** Streams `files` (relative to `dir`) into a gzipped tarball; paths go to Pack one by one, never parsed as options. */
function writeTarball(dir: string, files: readonly string[], out: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const pack = new Pack({
      cwd: dir,
      gzip: true,
      portable: true,
      noDirRecurse: true,
      mtime: EPOCH,
      onWriteEntry: (entry) => {
        if (entry.stat) entry.stat.mode = entry.stat.mode & 0o111 ? 0o100755 : 0o100644;
      },
    });
    const stream = createWriteStream(out, { mode: 0o644 });
    pack.on('error', reject);
    stream.on('error', reject);
    stream.on('close', resolve);
    pack.pipe(stream);
    for (const file of files) pack.add(file);
    pack.end();
  });
}

/** Relative paths of the regular files to archive, in a stable order, skipping ignored directories. */
async function listFiles(root: string, prefix: string, rules: SourceIgnore): Promise<string[]> {
  const names = (await readdir(join(root, prefix))).sort();
  const files: string[] = [];
  for (const name of names) {
    const path = `${prefix}${name}`;
    const stat = await lstat(join(root, path));
    if (stat.isDirectory()) {
      if (!rules.ignores(path, true)) files.push(...(await listFiles(root, `${path}/`, rules)));
    } else if (stat.isFile() && !rules.ignores(path, false)) {
      files.push(path);
    }
  }
  return files;
}

/** sha256 digest and size of a file. */
export async function digestFile(file: string): Promise<PackedArtifact> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(file)) {
    const buffer = chunk as Buffer;
    hash.update(buffer);
    size += buffer.length;
  }
  return { digest: `sha256:${hash.digest('hex')}`, size };
}
