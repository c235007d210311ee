import { open, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';

/** The commit a checkout's HEAD points at. */
export interface HeadCommit {
  /** Full hex id. */
  commit: string;
  /** The raw commit message (`git log --format=%B`), trimmed. */
  message: string;
}

const OID = /^[0-9a-f]{40}$/;
const COMMIT = 1;
const TAG = 4;

/**
 * Reads the commit at HEAD of the repository in `dir` from `.git` itself (HEAD, loose or packed refs,
 * loose objects, version-2 pack indexes), so that no `git` process is needed after a fetch. Returns
 * undefined when the commit cannot be read this way (a deltified object, a SHA-256 or otherwise unusual
 * repository): the caller then asks git. Never returns a wrong answer: the object's type is checked.
 */
export async function readHeadCommit(dir: string): Promise<HeadCommit | undefined> {
  try {
    const gitDir = join(dir, '.git');
    let oid = await resolveRef(gitDir, 'HEAD');
    for (let depth = 0; oid && depth < 5; depth++) {
      const object = await readObject(gitDir, oid);
      if (!object) return undefined;
      if (object.type === COMMIT) {
        // git log re-encodes a message in another declared encoding: leave that to git.
        const encoding = /^encoding (.*)$/m.exec(headersOf(object.body))?.[1];
        if (encoding && !/^utf-?8$/i.test(encoding)) return undefined;
        return { commit: oid, message: messageOf(object.body) };
      }
      if (object.type !== TAG) return undefined;
      // An annotated tag checked out detached: peel it.
      oid = /^object ([0-9a-f]{40})$/m.exec(headersOf(object.body))?.[1];
    }
    return undefined;
  } catch {
    return undefined;
  }
}

/** Follows symbolic refs from `name` to an object id, through loose refs, then `packed-refs`. */
async function resolveRef(gitDir: string, name: string): Promise<string | undefined> {
  let ref = name;
  for (let depth = 0; depth < 5; depth++) {
    const loose = await readFile(join(gitDir, ref), 'utf8').catch(() => undefined);
    const value = loose?.trim() ?? (await packedRef(gitDir, ref));
    if (value === undefined) return undefined;
    if (OID.test(value)) return value;
    if (!value.startsWith('ref: refs/')) return undefined;
    ref = value.slice('ref: '.length);
  }
  return undefined;
}

async function packedRef(gitDir: string, ref: string): Promise<string | undefined> {
  const packed = await readFile(join(gitDir, 'packed-refs'), 'utf8').catch(() => '');
  for (const line of packed.split('\n')) {
    if (line.endsWith(` ${ref}`)) return line.slice(0, line.indexOf(' '));
  }
  return undefined;
}

interface GitObject {
  type: number;
  body: Buffer;
}

async function readObject(gitDir: string, oid: string): Promise<GitObject | undefined> {
  const objects = join(gitDir, 'objects');
  const loose = await readFile(join(objects, oid.slice(0, 2), oid.slice(2))).catch(() => undefined);
  if (loose) return parseLoose(inflateSync(loose));
  const packDir = join(objects, 'pack');
  for (const name of await readdir(packDir).catch(() => [])) {
    if (!name.endsWith('.idx')) continue;
    const offset = findInIndex(await readFile(join(packDir, name)), oid);
    if (offset !== undefined) return readPacked(join(packDir, name.replace(/\.idx$/, '.pack')), offset);
  }
  return undefined;
}

/** `<type> <size>\0<body>` of a loose object. */
function parseLoose(raw: Buffer): GitObject | undefined {
  const nul = raw.indexOf(0);
  const type = raw.subarray(0, raw.indexOf(0x20)).toString();
  const body = raw.subarray(nul + 1);
  if (type === 'commit') return { type: COMMIT, body };
  if (type === 'tag') return { type: TAG, body };
  return undefined;
}

/** Offset of `oid` in a version-2 pack index, or undefined when the index does not hold it. */
function findInIndex(idx: Buffer, oid: string): number | undefined {
  if (idx.readUInt32BE(0) !== 0xff744f63 || idx.readUInt32BE(4) !== 2) return undefined;
  const fanout = 8;
  const count = idx.readUInt32BE(fanout + 255 * 4);
  const names = fanout + 256 * 4;
  const wanted = Buffer.from(oid, 'hex');
  const first = wanted[0]!;
  let low = first === 0 ? 0 : idx.readUInt32BE(fanout + (first - 1) * 4);
  let high = idx.readUInt32BE(fanout + first * 4);
  while (low < high) {
    const mid = (low + high) >>> 1;
    const order = idx.compare(wanted, 0, 20, names + mid * 20, names + mid * 20 + 20);
    if (order === 0) {
      const offsets = names + count * 24;
      const offset = idx.readUInt32BE(offsets + mid * 4);
      if (offset & 0x80000000) {
        const large = offsets + count * 4 + (offset & 0x7fffffff) * 8;
        return Number(idx.readBigUInt64BE(large));
      }
      return offset;
    }
    if (order > 0) high = mid;
    else low = mid + 1;
  }
  return undefined;
}

/** A whole (undeltified) commit or tag at `offset` in a pack; undefined for deltas and other types. */
async function readPacked(packFile: string, offset: number): Promise<GitObject | undefined> {
  const file = await open(packFile, 'r');
  try {
    const head = Buffer.alloc(16);
    await file.read(head, 0, head.length, offset);
    let byte = head[0]!;
    const type = (byte >> 4) & 7;
    let size = byte & 15;
    let shift = 4;
    let at = 1;
    while (byte & 0x80) {
      byte = head[at++]!;
      size += (byte & 0x7f) * 2 ** shift;
      shift += 7;
    }
    if (type !== COMMIT && type !== TAG) return undefined;
    // Deflate adds at most a few bytes per 16 KiB block, plus its header and checksum.
    const compressed = Buffer.alloc(size + 64 + Math.ceil(size / 1024));
    const { bytesRead } = await file.read(compressed, 0, compressed.length, offset + at);
    const body = inflateSync(compressed.subarray(0, bytesRead));
    return body.length === size ? { type, body } : undefined;
  } finally {
    await file.close();
  }
}

function headersOf(body: Buffer): string {
  const text = body.toString('utf8');
  const end = text.indexOf('\n\n');
  return end < 0 ? text : text.slice(0, end);
}

/** The message after the headers (a signature's continuation lines start with a space, never empty). */
function messageOf(body: Buffer): string {
  const text = body.toString('utf8');
  const end = text.indexOf('\n\n');
  return end < 0 ? '' : text.slice(end + 2).trim();
}
