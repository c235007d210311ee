import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  EngineAlreadyRunningError,
  EngineLockNotHeldError,
  acquireEngineLock,
  readEngineLock,
  updateEngineLock,
} from './engine-lock.ts';
import { spawnTracked as spawn } from '../../test/harness/tracked-process.ts';

const fixture = join(import.meta.dirname, '../../test/fixtures/store/hold-engine-lock.ts');

interface Holder {
  child: ChildProcess;
  result: { ok: boolean; pid: number; message?: string };
}

/** Starts a process that tries to take the lock; resolves with what it printed. Close stdin to let it go. */
async function startHolder(dataDir: string): Promise<Holder> {
  const child = spawn(process.execPath, ['--import', 'tsx', fixture, dataDir], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const [line] = (await once(createInterface({ input: child.stdout }), 'line')) as [string];
  return { child, result: JSON.parse(line) as Holder['result'] };
}

async function stopHolder(holder: Holder): Promise<void> {
  if (holder.child.exitCode !== null) return;
  const exited = once(holder.child, 'exit');
  holder.child.stdin!.end();
  await exited;
}

/** The pid of a process that has exited: a lock naming it is stale. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await once(child, 'exit');
  return child.pid!;
}

describe('engine lock', () => {
  let dataDir: string;
  const holders: Holder[] = [];

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'kedge-lock-'));
  });

  afterEach(async () => {
    for (const holder of holders.splice(0)) await stopHolder(holder);
    await rm(dataDir, { recursive: true, force: true });
  });

  it('writes who holds the data dir, and readEngineLock reports it', async () => {
    expect(await readEngineLock(dataDir)).toBeUndefined();
    const lock = await acquireEngineLock(dataDir, { storageUrl: 'http://127.0.0.1:9090' });
    const onDisk = JSON.parse(await readFile(join(dataDir, 'engine.lock'), 'utf8')) as Record<
      string,
      unknown
    >;
    expect(onDisk).toMatchObject({
      pid: process.pid,
      hostname: hostname(),
      storageUrl: 'http://127.0.0.1:9090',
    });
    expect(Date.parse(String(onDisk.startedAt))).not.toBeNaN();
    expect(await readEngineLock(dataDir)).toEqual(onDisk);
    await lock.release();
    expect(await readEngineLock(dataDir)).toBeUndefined();
  });

  it('refuses a second engine in another process, naming the pid that holds the lock', async () => {
    const lock = await acquireEngineLock(dataDir);
    const other = await startHolder(dataDir);
    holders.push(other);
    expect(other.result.ok).toBe(false);
    expect(other.result.message).toContain(
      `another kedge engine (pid ${process.pid}, started ${lock.info.startedAt})`,
    );
    expect(other.result.message).toContain(`is using data dir ${dataDir}; stop it or use another --data-dir`);
    await lock.release();
  });

  it('refuses while another process holds it, and takes it once that process released it', async () => {
    const holder = await startHolder(dataDir);
    holders.push(holder);
    expect(holder.result.ok).toBe(true);
    const refused = acquireEngineLock(dataDir);
    await expect(refused).rejects.toBeInstanceOf(EngineAlreadyRunningError);
    await expect(refused).rejects.toThrow(`pid ${holder.result.pid},`);
    expect((await readEngineLock(dataDir))?.pid).toBe(holder.result.pid);
    await stopHolder(holder);
    const lock = await acquireEngineLock(dataDir);
    expect(lock.info.pid).toBe(process.pid);
    await lock.release();
  });

  it('takes over a stale lock whose process is gone', async () => {
    const pid = await deadPid();
    await writeFile(
      join(dataDir, 'engine.lock'),
      JSON.stringify({ pid, hostname: hostname(), startedAt: 'yesterday' }),
    );
    expect(await readEngineLock(dataDir)).toBeUndefined();
    const lock = await acquireEngineLock(dataDir);
    expect((await readEngineLock(dataDir))?.pid).toBe(process.pid);
    await lock.release();
  });

  it.each([
    ['empty', ''],
    ['not JSON', 'pid=12'],
    ['without pid', JSON.stringify({ hostname: hostname() })],
  ])('takes over a lock file that is %s', async (_name, content) => {
    await writeFile(join(dataDir, 'engine.lock'), content);
    const lock = await acquireEngineLock(dataDir);
    expect(lock.info.pid).toBe(process.pid);
    await lock.release();
  });

  it('lets exactly one of several racing processes take a stale lock', async () => {
    const pid = await deadPid();
    await writeFile(
      join(dataDir, 'engine.lock'),
      JSON.stringify({ pid, hostname: hostname(), startedAt: 'yesterday' }),
    );
    const racers = await Promise.all([startHolder(dataDir), startHolder(dataDir), startHolder(dataDir)]);
    holders.push(...racers);
    const winners = racers.filter((r) => r.result.ok);
    expect(winners).toHaveLength(1);
    expect((await readEngineLock(dataDir))?.pid).toBe(winners[0]?.result.pid);
  });

  it('releases only its own lock, and can be taken again after release', async () => {
    const first = await acquireEngineLock(dataDir);
    await first.release();
    const second = await acquireEngineLock(dataDir);
    await first.release();
    expect((await readEngineLock(dataDir))?.startedAt).toBe(second.info.startedAt);
    await second.release();
    await second.release();
    expect(await readEngineLock(dataDir)).toBeUndefined();
  });

  it('adds listen addresses to the held lock', async () => {
    const lock = await acquireEngineLock(dataDir, { mode: 'standalone' });
    await updateEngineLock(dataDir, { metricsUrl: 'http://127.0.0.1:8080' });
    expect(await readEngineLock(dataDir)).toEqual({ ...lock.info, metricsUrl: 'http://127.0.0.1:8080' });
    await lock.release();
    await expect(updateEngineLock(dataDir, { metricsUrl: 'x' })).rejects.toBeInstanceOf(
      EngineLockNotHeldError,
    );
  });
});
