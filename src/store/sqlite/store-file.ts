import { randomBytes } from 'node:crypto';
import { link, open, rm, stat } from 'node:fs/promises';
import Database from 'better-sqlite3';
import { migrate } from './schema.ts';

/** Why an existing store file cannot be used. */
export type StoreFileProblem = 'Empty' | 'NotADatabase' | 'Truncated' | 'NotAKedgeStore' | 'Unreadable';

/**
 * The store file exists but is not a usable Kedge store (empty, damaged, foreign or unreadable). Kedge never
 * replaces such a file by a new store: that would look like a first start and deploy the bundled example.
 */
export class StoreFileError extends Error {
  override name = 'StoreFileError';
  constructor(
    readonly file: string,
    readonly reason: StoreFileProblem,
    detail: string,
  ) {
    super(`store ${file} ${detail}; kedge never replaces an existing store. ${advice(reason)}`);
  }
}

function advice(reason: StoreFileProblem): string {
  if (reason === 'Unreadable') return 'Fix its permissions (or --data-dir) and run the command again';
  return 'Restore it from a backup, or move it away to start with an empty store (every object will have to be applied again)';
}

const SQLITE_MAGIC = Buffer.from('SQLite format 3\0', 'latin1');

/**
 * Makes sure `file` is a store Kedge can open. Absent: a new, migrated store is created at a temporary name and
 * linked into place, so `file` never exists half-made (a crash leaves no empty store behind) and two processes
 * creating it at once end up sharing one. Present: it must be a non-empty, complete SQLite database; anything
 * else throws {@link StoreFileError} naming the file. Returns whether the store was created now.
 */
export async function prepareStoreFile(file: string): Promise<{ created: boolean }> {
  const info = await stat(file).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw new StoreFileError(file, 'Unreadable', `cannot be read (${error.code ?? error.message})`);
  });
  if (info === undefined) return { created: await createStoreFile(file) };
  if (!info.isFile()) throw new StoreFileError(file, 'NotADatabase', 'is not a regular file');
  if (info.size === 0) throw new StoreFileError(file, 'Empty', 'is empty (0 bytes)');
  await checkHeader(file, info.size);
  return { created: false };
}

/** Creates a migrated store at `file` unless another process got there first. True when this call made it. */
async function createStoreFile(file: string): Promise<boolean> {
  const scratch = `${file}.new-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    const db = new Database(scratch);
    try {
      db.pragma('journal_mode = WAL');
      migrate(db, file);
    } finally {
      db.close();
    }
    return await link(scratch, file).then(
      () => true,
      (error: NodeJS.ErrnoException) => {
        if (error.code === 'EEXIST') return false;
        throw error;
      },
    );
  } finally {
    for (const suffix of ['', '-wal', '-shm']) await rm(`${scratch}${suffix}`, { force: true });
  }
}

/**
 * Reads the 100-byte SQLite header: the magic string, and (when the header's page count is valid) that the file
 * holds every page the header announces, which a truncated copy does not.
 */
async function checkHeader(file: string, size: number): Promise<void> {
  const header = Buffer.alloc(100);
  let read: number;
  try {
    const handle = await open(file, 'r');
    try {
      ({ bytesRead: read } = await handle.read(header, 0, 100, 0));
    } finally {
      await handle.close();
    }
  } catch (error) {
    throw new StoreFileError(
      file,
      'Unreadable',
      `cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
    );
  }
  if (read < 100 || !header.subarray(0, 16).equals(SQLITE_MAGIC)) {
    throw new StoreFileError(
      file,
      'NotADatabase',
      'is not an SQLite database (damaged, or not a kedge store)',
    );
  }
  const rawPageSize = header.readUInt16BE(16);
  const pageSize = rawPageSize === 1 ? 65_536 : rawPageSize;
  const pages = header.readUInt32BE(28);
  const pagesValid = header.readUInt32BE(24) === header.readUInt32BE(92) && pages > 0;
  if (pagesValid && size < pages * pageSize) {
    throw new StoreFileError(file, 'Truncated', `is truncated (${size} of ${pages * pageSize} bytes)`);
  }
}

/**
 * Turns an error SQLite raised while opening an existing store into a {@link StoreFileError}; other errors are
 * returned unchanged.
 */
export function storeOpenError(file: string, error: unknown): unknown {
  const code = (error as { code?: string }).code ?? '';
  const message = error instanceof Error ? error.message : String(error);
  if (code === 'SQLITE_NOTADB')
    return new StoreFileError(
      file,
      'NotADatabase',
      'is not an SQLite database (damaged, or not a kedge store)',
    );
  if (code.startsWith('SQLITE_CORRUPT'))
    return new StoreFileError(file, 'Truncated', `is damaged (${message})`);
  if (
    code.startsWith('SQLITE_CANTOPEN') ||
    code.startsWith('SQLITE_PERM') ||
    code.startsWith('SQLITE_READONLY') ||
    code === 'SQLITE_AUTH'
  ) {
    return new StoreFileError(file, 'Unreadable', `cannot be opened for reading and writing (${message})`);
  }
  return error;
}
