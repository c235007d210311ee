import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, lstatSync } from 'node:fs';
import { readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Pack, PackSync } from 'tar';
import {
  SOURCE_IGNORE_FILE,
  sourceIgnoreFrom,
  type SourceIgnore,
  type SourceIgnoreFile,
} from './source-ignore.ts';

/** Digest and size of a written artifact. */
export interface PackedArtifact {
  /** `sha256:<hex>` of the tar.gz file. */
  digest: string;
  size: number;
}

/** What {@link packArtifact} leaves out. */
export interface PackOptions {
  /** `spec.ignore`: gitignore rules relative to the root, after the `.sourceignore` files. */
  ignore?: string;
  /**
   * Archive every regular file: no VCS or default patterns, no `.sourceignore` (a Bucket's objects were
   * already filtered when they were listed, as Flux archives them).
   */
  keepAll?: boolean;
  /** Apply `.sourceignore` files and `ignore` but never the default patterns (OCI artifacts, as Flux). */
  noDefaultPatterns?: boolean;
}

const EPOCH = new Date(0);

/**
 * Writes a gzipped tarball of the regular files under `dir` to `outFile`, leaving out what Flux leaves out
 * (see {@link sourceIgnoreFrom}; `ignore` is `spec.ignore`), symlinks and other special files. The archive is
 * deterministic: entries sorted, mtime 0, no owner or group, modes 0644 or 0755 (executable bit kept), so
 * its digest depends only on the files' paths, contents and executable bits. Written to a temp file in the
 * same directory and renamed, so readers never see a partial file.
 */
export async function packArtifact(
  dir: string,
  outFile: string,
  opts: PackOptions = {},
): Promise<PackedArtifact> {
  const tree = await readTree(dir, '');
  const rules: SourceIgnore = opts.keepAll
    ? { ignores: () => false }
    : sourceIgnoreFrom(await readSourceIgnoreFiles(dir, tree), opts.ignore, {
        defaults: opts.noDefaultPatterns !== true,
      });
  const files = selectFiles(dir, tree, rules);
  const temp = join(dirname(outFile), `.${basename(outFile)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const bytes = files.reduce((sum, file) => sum + file.size, 0);
    const paths = files.map((file) => file.path);
    const packed =
      bytes <= SYNC_PACK_LIMIT
        ? await writeSmallTarball(dir, paths, temp)
        : await writeTarball(dir, paths, temp);
    await rename(temp, outFile);
    return packed;
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

/**
 * Checkouts up to this many bytes are packed in memory with synchronous reads (one tick of a few
 * milliseconds at most, and several times cheaper than an asynchronous read per file); larger ones are
 * streamed. Both write the same bytes.
 */
const SYNC_PACK_LIMIT = 4 * 1024 * 1024;

function packOptions(dir: string): NonNullable<ConstructorParameters<typeof Pack>[0]> {
  return {
    cwd: dir,
    gzip: true,
    portable: true,
    noDirRecurse: true,
    mtime: EPOCH,
    onWriteEntry: (entry) => {
      if (entry.stat) entry.stat.mode = entry.stat.mode & 0o111 ? 0o100755 : 0o100644;
    },
  };
}

/** Packs `files` in memory in one synchronous pass, then writes the tarball once. */
async function writeSmallTarball(
  dir: string,
  files: readonly string[],
  out: string,
): Promise<PackedArtifact> {
  const pack = new PackSync(packOptions(dir));
  const chunks: Buffer[] = [];
  pack.on('data', (chunk: Buffer) => chunks.push(chunk));
  for (const file of files) pack.add(file);
  pack.end();
  const tarball = Buffer.concat(chunks);
  await writeFile(out, tarball, { mode: 0o644 });
  return { digest: `sha256:${createHash('sha256').update(tarball).digest('hex')}`, size: tarball.length };
}

/** Streams `files` (relative to `dir`) into a gzipped tarball, hashing it on the way; paths go to Pack one by one, never parsed as options. */
function writeTarball(dir: string, files: readonly string[], out: string): Promise<PackedArtifact> {
  return new Promise((resolve, reject) => {
    const pack = new Pack(packOptions(dir));
    const hash = createHash('sha256');
    let size = 0;
    const stream = createWriteStream(out, { mode: 0o644 });
    pack.on('error', reject);
    stream.on('error', reject);
    stream.on('close', () => resolve({ digest: `sha256:${hash.digest('hex')}`, size }));
    pack.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      size += chunk.length;
      if (!stream.write(chunk)) pack.pause();
    });
    stream.on('drain', () => pack.resume());
    pack.on('end', () => stream.end());
    for (const file of files) pack.add(file);
    pack.end();
  });
}

/** One directory of the checkout, read once: entries in name order, subdirectories read too (except `.git`). */
interface TreeDir {
  /** '' for the root, else the path with a trailing slash. */
  prefix: string;
  entries: Array<{ name: string; kind: 'file' | 'dir' | 'other'; dir?: TreeDir }>;
}

/** Reads the directory tree once (one readdir per directory); file types come from the directory entries. */
async function readTree(root: string, prefix: string): Promise<TreeDir> {
  const dirents = (await readdir(join(root, prefix), { withFileTypes: true })).sort((a, b) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
  );
  const entries: TreeDir['entries'] = [];
  for (const dirent of dirents) {
    if (dirent.isDirectory()) {
      const dir = dirent.name === '.git' ? undefined : await readTree(root, `${prefix}${dirent.name}/`);
      entries.push({ name: dirent.name, kind: 'dir', ...(dir ? { dir } : {}) });
    } else {
      entries.push({ name: dirent.name, kind: dirent.isFile() ? 'file' : 'other' });
    }
  }
  return { prefix, entries };
}

/** Every `.sourceignore` of the tree, outer directories first (as {@link sourceIgnoreFrom} wants them). */
async function readSourceIgnoreFiles(root: string, tree: TreeDir): Promise<SourceIgnoreFile[]> {
  const files: SourceIgnoreFile[] = [];
  const hasFile = tree.entries.some((e) => e.name === SOURCE_IGNORE_FILE && e.kind !== 'dir');
  if (hasFile) {
    const text = await readFile(join(root, tree.prefix, SOURCE_IGNORE_FILE), 'utf8').catch(() => '');
    if (text) files.push({ domain: tree.prefix, text });
  }
  for (const entry of tree.entries)
    if (entry.dir) files.push(...(await readSourceIgnoreFiles(root, entry.dir)));
  return files;
}

/** Relative paths and sizes of the regular files to archive, in a stable order, skipping ignored directories. */
function selectFiles(
  root: string,
  tree: TreeDir,
  rules: SourceIgnore,
): Array<{ path: string; size: number }> {
  const files: Array<{ path: string; size: number }> = [];
  for (const entry of tree.entries) {
    const path = `${tree.prefix}${entry.name}`;
    if (entry.kind === 'dir') {
      if (entry.dir && !rules.ignores(path, true)) files.push(...selectFiles(root, entry.dir, rules));
    } else if (entry.kind === 'file' && !rules.ignores(path, false)) {
      // A stat is a few microseconds: no need to leave the thread for it.
      files.push({ path, size: lstatSync(join(root, path)).size });
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
