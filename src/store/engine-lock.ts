import { randomBytes } from 'node:crypto';
import { link, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';

/** What `<dataDir>/engine.lock` says about the engine that holds the data dir. */
export interface EngineLockInfo {
  pid: number;
  hostname: string;
  /** When the engine took the lock, RFC 3339 with milliseconds. */
  startedAt: string;
  /** Whatever else the engine publishes, e.g. its listen addresses (`storageUrl`, `metricsUrl`). */
  [field: string]: unknown;
}

/** A held engine lock. */
export interface EngineLock {
  readonly file: string;
  readonly info: EngineLockInfo;
  /** Removes the lock file if it is still this lock's; does nothing otherwise. Safe to call twice. */
  release(): Promise<void>;
}

/** Another live engine holds the data dir. */
export class EngineAlreadyRunningError extends Error {
  constructor(
    readonly dataDir: string,
    readonly holder: EngineLockInfo,
  ) {
    const host = holder.hostname === hostname() ? '' : ` on host ${holder.hostname}`;
    super(
      `another kedge engine (pid ${holder.pid}${host}, started ${holder.startedAt}) is using data dir ${dataDir}; ` +
        `stop it or use another --data-dir`,
    );
    this.name = 'EngineAlreadyRunningError';
  }
}

/** This process does not hold the data dir's engine lock, so it may not change it. */
export class EngineLockNotHeldError extends Error {
  constructor(readonly file: string) {
    super(
      `engine lock ${file} is not held by this process (pid ${process.pid}); was it released or taken over?`,
    );
    this.name = 'EngineLockNotHeldError';
  }
}

/** The lock file inside a data dir. */
export const engineLockFileName = 'engine.lock';

const maxAttempts = 5;

/**
 * Takes the data dir's engine lock, so that only one engine runs per data dir. The lock file appears
 * atomically and complete (written aside, then hard-linked into place, which fails when one exists). A lock
 * whose process is gone is stale and taken over; a live one makes this throw {@link EngineAlreadyRunningError}.
 * A lock written on another host is taken as live, since its process cannot be checked from here.
 */
export async function acquireEngineLock(
  dataDir: string,
  info: Record<string, unknown> = {},
): Promise<EngineLock> {
  const file = lockFile(dataDir);
  const mine: EngineLockInfo = {
    ...info,
    pid: process.pid,
    hostname: hostname(),
    startedAt: new Date().toISOString(),
  };
  for (let attempt = 0; attempt < maxAttempts; attempt++) {
    if (await createExclusive(file, JSON.stringify(mine, null, 2))) {
      return { file, info: mine, release: () => releaseIfMine(file, mine) };
    }
    const holder = await readLockFile(file);
    if (holder !== undefined && isAlive(holder)) throw new EngineAlreadyRunningError(dataDir, holder);
    await removeStale(file, holder);
  }
  throw new Error(
    `could not take engine lock ${file} after ${maxAttempts} attempts; other processes keep racing for it`,
  );
}

/**
 * Adds `info` (e.g. listen addresses known only after binding) to the lock this process holds on `dataDir`,
 * replacing the file atomically. Throws {@link EngineLockNotHeldError} when the lock is not this process's.
 */
export async function updateEngineLock(
  dataDir: string,
  info: Record<string, unknown>,
): Promise<EngineLockInfo> {
  const file = lockFile(dataDir);
  const current = await readLockFile(file);
  if (current === undefined || !isThisProcess(current)) throw new EngineLockNotHeldError(file);
  const updated: EngineLockInfo = {
    ...current,
    ...info,
    pid: current.pid,
    hostname: current.hostname,
    startedAt: current.startedAt,
  };
  const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(temporary, JSON.stringify(updated, null, 2));
  await rename(temporary, file);
  return updated;
}

/** The lock's contents when a live engine holds `dataDir`; undefined when none does (no file, or a stale one). */
export async function readEngineLock(dataDir: string): Promise<EngineLockInfo | undefined> {
  const holder = await readLockFile(lockFile(dataDir));
  return holder !== undefined && isAlive(holder) ? holder : undefined;
}

function lockFile(dataDir: string): string {
  return join(dataDir, engineLockFileName);
}

/** Creates `file` with `content` unless it exists; true when created. */
async function createExclusive(file: string, content: string): Promise<boolean> {
  const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(temporary, content, { flag: 'wx' });
  try {
    await link(temporary, file);
    return true;
  } catch (error) {
    if (errorCode(error) === 'EEXIST') return false;
    if (!['EPERM', 'ENOTSUP', 'ENOSYS'].includes(errorCode(error) ?? '')) throw error;
    // The file system has no hard links: fall back to an exclusive create (readers may briefly see it empty).
    return writeFile(file, content, { flag: 'wx' }).then(
      () => true,
      (createError: unknown) =>
        errorCode(createError) === 'EEXIST' ? false : Promise.reject(createError as Error),
    );
  } finally {
    await unlink(temporary).catch(() => undefined);
  }
}

/**
 * Moves a stale lock out of the way. The lock is renamed aside first and checked: if it turns out to be a
 * fresh lock that a racing process created meanwhile, it is put back.
 */
async function removeStale(file: string, stale: EngineLockInfo | undefined): Promise<void> {
  const aside = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.stale`;
  try {
    await rename(file, aside);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return;
    throw error;
  }
  const moved = await readLockFile(aside);
  const sameAsStale = JSON.stringify(moved) === JSON.stringify(stale);
  if (!sameAsStale && moved !== undefined && isAlive(moved)) await link(aside, file).catch(() => undefined);
  await unlink(aside).catch(() => undefined);
}

async function releaseIfMine(file: string, mine: EngineLockInfo): Promise<void> {
  const current = await readLockFile(file);
  if (current === undefined || !isThisProcess(current) || current.startedAt !== mine.startedAt) return;
  await unlink(file).catch((error: unknown) =>
    errorCode(error) === 'ENOENT' ? undefined : Promise.reject(error as Error),
  );
}

/** The parsed lock file; undefined when missing or unreadable as a lock (which then counts as stale). */
async function readLockFile(file: string): Promise<EngineLockInfo | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const parsed = JSON.parse(text) as Partial<EngineLockInfo> | null;
    const pid = parsed?.pid;
    if (
      typeof pid !== 'number' ||
      !Number.isInteger(pid) ||
      pid <= 0 ||
      typeof parsed?.hostname !== 'string'
    ) {
      return undefined;
    }
    return { ...parsed, pid, hostname: parsed.hostname, startedAt: String(parsed.startedAt) };
  } catch {
    return undefined;
  }
}

function isThisProcess(info: EngineLockInfo): boolean {
  return info.pid === process.pid && info.hostname === hostname();
}

/** Whether the lock's process still runs; a process on another host is assumed to. */
function isAlive(info: EngineLockInfo): boolean {
  if (info.hostname !== hostname()) return true;
  try {
    process.kill(info.pid, 0);
    return true;
  } catch (error) {
    return errorCode(error) === 'EPERM';
  }
}

function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}
