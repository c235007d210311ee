import { spawnTracked as spawn } from '../../../test/harness/tracked-process.ts';
import { once } from 'node:events';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { KObject, ObjectRef } from '../../api/meta.ts';
import { eventually } from '../../../test/harness/eventually.ts';
import { describeStoreConformance } from '../store-conformance.ts';
import { eventsPerObject } from './event-log.ts';
import { SchemaTooNewError, schemaVersion } from './schema.ts';
import { openSqliteStore, type SqliteStore, type SqliteStoreOptions } from './sqlite-store.ts';
import { StoreFileError, type StoreFileProblem } from './store-file.ts';

describeStoreConformance('sqlite', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kedge-store-'));
  return {
    store: await openSqliteStore(dir),
    openAnother: () => openSqliteStore(dir),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

describe('sqlite store', () => {
  let dir: string;
  const open: SqliteStore[] = [];
  const openStore = async (options?: SqliteStoreOptions): Promise<SqliteStore> => {
    const store = await openSqliteStore(dir, options);
    open.push(store);
    return store;
  };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kedge-sqlite-'));
  });

  afterEach(async () => {
    for (const store of open.splice(0)) await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps objects, status and events across a reopen', async () => {
    const first = await openStore();
    const { object } = await first.apply(repo('podinfo'));
    await first.updateStatus(ref('podinfo'), { observedGeneration: 1 });
    await first.recordEvent(event('podinfo', 'stored artifact'));
    await first.close();
    const second = await openStore();
    expect(await second.get(ref('podinfo'))).toMatchObject({
      ...object,
      metadata: { uid: object.metadata.uid },
      status: { observedGeneration: 1 },
    });
    expect((await second.listEvents()).map((e) => e.message)).toEqual(['stored artifact']);
    const { object: next } = await second.apply(repo('other'));
    expect(Number(next.metadata.resourceVersion)).toBeGreaterThan(Number(object.metadata.resourceVersion));
  });

  it('refuses a store written by a newer schema', async () => {
    await (await openStore()).close();
    const db = new Database(join(dir, 'kedge.db'));
    db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(schemaVersion + 1);
    db.close();
    await expect(openSqliteStore(dir)).rejects.toThrow(SchemaTooNewError);
  });

  it('creates a new store only where no file was, leaving no scratch files, and reopens it as existing', async () => {
    await (await openStore()).close();
    expect((await stat(join(dir, 'kedge.db'))).size).toBeGreaterThan(0);
    expect((await readdir(dir)).filter((name) => name.includes('.new-'))).toEqual([]);
    await expect(openStore()).resolves.toBeDefined();
  });

  it('two processes opening a fresh data dir at once share one store', async () => {
    const [a, b] = await Promise.all([openStore(), openStore()]);
    await a.apply(repo('shared'));
    expect(await b.get(ref('shared'))).toBeDefined();
  });

  it.each<[string, (file: string) => Promise<void>, StoreFileProblem, RegExp]>([
    ['an empty file', (file) => writeFile(file, ''), 'Empty', /is empty \(0 bytes\)/],
    [
      'garbage',
      (file) => writeFile(file, 'not a database\n'.repeat(500)),
      'NotADatabase',
      /is not an SQLite database/,
    ],
    ['a directory', (file) => mkdir(file), 'NotADatabase', /is not a regular file/],
    [
      'a foreign SQLite database',
      (file) => Promise.resolve(void new Database(file).exec('CREATE TABLE notes (text TEXT)').close()),
      'NotAKedgeStore',
      /not a kedge store/,
    ],
    [
      'a truncated store',
      async (file) => {
        const store = await openSqliteStore(dirname(file));
        for (let i = 0; i < 200; i++) await store.apply(repo(`r${i}`));
        await store.close();
        const size = (await stat(file)).size;
        await truncate(file, Math.floor(size / 2));
      },
      'Truncated',
      /is truncated/,
    ],
  ])(
    'refuses %s where the store file should be, naming the file and keeping it',
    async (_name, plant, reason, message) => {
      const file = join(dir, 'kedge.db');
      await plant(file);
      const before = (await stat(file)).isFile() ? await readFile(file) : undefined;
      const error = await openSqliteStore(dir).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(StoreFileError);
      expect((error as StoreFileError).reason).toBe(reason);
      expect((error as Error).message).toContain(`store ${file} `);
      expect((error as Error).message).toMatch(message);
      if (before) expect(await readFile(file)).toEqual(before);
    },
  );

  it('loses no update when two processes race on one object', async () => {
    const store = await openStore();
    await store.apply({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'counter' }, data: {} });
    const seen: number[] = [];
    const stop = store.watch('ConfigMap', (e) => seen.push((e.object.status as { count: number }).count));
    const workers = await Promise.all([startCounter(dir, 100), startCounter(dir, 100)]);
    for (const worker of workers) worker.child.stdin?.end('go\n');
    const results = await Promise.all(workers.map((worker) => worker.result));
    expect((await store.get({ kind: 'ConfigMap', namespace: 'default', name: 'counter' }))?.status).toEqual({
      count: 200,
    });
    // Every increment reached the watcher exactly once and in order, although other processes wrote them.
    await eventually(() => expect(seen).toHaveLength(200));
    expect(seen).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    expect(results.every((r) => typeof r.conflicts === 'number')).toBe(true);
    stop();
  });

  it('prunes the change log to the newest rows once they are old enough', async () => {
    let now = new Date('2025-01-01T00:00:00Z');
    const store = await openStore({ now: () => now, changeLogRetention: { rows: 100, ageMs: 60_000 } });
    const changeRows = (): number => {
      const db = new Database(join(dir, 'kedge.db'), { readonly: true });
      const { rows } = db.prepare('SELECT count(*) AS rows FROM changes').get() as { rows: number };
      db.close();
      return rows;
    };
    await store.apply(repo('podinfo'));
    for (let i = 0; i < 300; i++) await store.updateStatus(ref('podinfo'), { i });
    expect(changeRows()).toBeGreaterThan(256);
    now = new Date('2025-01-01T00:02:00Z');
    for (let i = 0; i < 300; i++) await store.updateStatus(ref('podinfo'), { i: i + 300 });
    expect(changeRows()).toBeLessThanOrEqual(100 + 256);
    const seen: unknown[] = [];
    store.watch(undefined, (e) => seen.push(e.object.status));
    await store.updateStatus(ref('podinfo'), { i: 'last' });
    expect(seen).toEqual([{ i: 'last' }]);
  });

  it('does not fold an identical event seen more than an hour ago', async () => {
    let now = new Date('2025-01-01T00:00:00Z');
    const store = await openStore({ now: () => now });
    await store.recordEvent(event('podinfo', 'failed'));
    now = new Date('2025-01-01T00:59:00Z');
    await store.recordEvent(event('podinfo', 'failed'));
    now = new Date('2025-01-01T02:00:00Z');
    await store.recordEvent(event('podinfo', 'failed'));
    const events = await store.listEvents();
    expect(events.map((e) => [e.count, e.firstTimestamp, e.lastTimestamp])).toEqual([
      [1, '2025-01-01T02:00:00Z', '2025-01-01T02:00:00Z'],
      [2, '2025-01-01T00:00:00Z', '2025-01-01T00:59:00Z'],
    ]);
  });

  it(`keeps the newest ${eventsPerObject} events of an object`, async () => {
    const store = await openStore();
    for (let i = 0; i <= eventsPerObject; i++) await store.recordEvent(event('podinfo', `attempt ${i}`));
    await store.recordEvent(event('other', 'kept'));
    const events = await store.listEvents({ name: 'podinfo', limit: 2 * eventsPerObject });
    expect(events).toHaveLength(eventsPerObject);
    expect(events[0]?.message).toBe(`attempt ${eventsPerObject}`);
    expect(events.at(-1)?.message).toBe('attempt 1');
    expect(await store.listEvents({ name: 'other' })).toHaveLength(1);
  });

  it('delivers a change before the write returns, and keeps order when a handler writes', async () => {
    const store = await openStore();
    const seen: string[] = [];
    const errors: unknown[] = [];
    const failing = await openStore({ onWatchHandlerError: (error) => errors.push(error) });
    failing.watch(undefined, () => {
      throw new Error('handler broke');
    });
    store.watch('GitRepository', (e) => {
      seen.push(`${e.type} ${e.object.metadata.name}`);
      if (e.type === 'ADDED' && e.object.metadata.name === 'first') void store.apply(repo('second'));
    });
    await store.apply(repo('first'));
    expect(seen).toEqual(['ADDED first', 'ADDED second']);
    await failing.apply(repo('third'));
    await eventually(() => expect(seen).toEqual(['ADDED first', 'ADDED second', 'ADDED third']));
    // The failing store's own handler broke on every change, its own and the other store's, and went on.
    await eventually(() => expect(errors).toHaveLength(3));
  });
});

function repo(name: string): KObject {
  return {
    apiVersion: 'source.toolkit.fluxcd.io/v1',
    kind: 'GitRepository',
    metadata: { name },
    spec: { interval: '1m' },
  };
}

function ref(name: string): ObjectRef {
  return { kind: 'GitRepository', namespace: 'default', name };
}

function event(name: string, message: string): Parameters<SqliteStore['recordEvent']>[0] {
  return {
    type: 'Warning',
    reason: 'GitOperationFailed',
    message,
    involvedObject: {
      apiVersion: 'source.toolkit.fluxcd.io/v1',
      kind: 'GitRepository',
      namespace: 'default',
      name,
    },
    reportingController: 'source-controller',
  };
}

const counterScript = join(import.meta.dirname, '../../../test/fixtures/store/increment-counter.ts');

/** Starts a process that increments the counter `times` times once it reads a line; `result` is its report. */
async function startCounter(dataDir: string, times: number) {
  const child = spawn(process.execPath, ['--import', 'tsx', counterScript, dataDir, String(times)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  const iterator = lines[Symbol.asyncIterator]();
  const ready = await iterator.next();
  if (ready.value !== 'ready')
    throw new Error(`counter process said ${String(ready.value)} instead of ready`);
  const result = (async () => {
    const report = await iterator.next();
    const [code] = (await once(child, 'exit')) as [number | null];
    if (code !== 0) throw new Error(`counter process exited with ${code}`);
    return JSON.parse(String(report.value)) as { conflicts: number };
  })();
  return { child, result };
}
