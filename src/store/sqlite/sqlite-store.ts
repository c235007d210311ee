import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { HistoryEntry } from '../../api/history.ts';
import type { KObject, KedgeEvent, ObjectRef } from '../../api/meta.ts';
import { jsonEqual } from '../canonical-json.ts';
import { bodyOf, desiredStateOf } from '../desired-state.ts';
import { toKubeTime } from '../kube-time.ts';
import {
  ConflictError,
  InvalidObjectError,
  NotFoundError,
  type ApplyResult,
  type EventFilter,
  type ListOptions,
  type Store,
  type WatchEvent,
} from '../store.ts';
import { ChangeFeed } from './change-feed.ts';
import { EventLog, type NewEvent } from './event-log.ts';
import { HistoryLog } from './history-log.ts';
import { objectFromRow, type ObjectRow } from './object-row.ts';
import { hasSchema, migrate } from './schema.ts';
import { prepareStoreFile, StoreFileError, storeOpenError } from './store-file.ts';

export interface SqliteStoreOptions {
  /** How often other processes' writes are looked for while somebody watches. Default 100 ms. */
  pollIntervalMs?: number;
  /** How long a write waits for another process's write to finish before failing. Default 10 s. */
  busyTimeoutMs?: number;
  /** The clock for timestamps and event folding. Default: the system clock. */
  now?: () => Date;
  /** Called when a watch handler throws; the other watchers still get the change. Default: a process warning. */
  onWatchHandlerError?: (error: unknown) => void;
  /**
   * How much of the change log (which watchers in other processes poll) to keep: a row goes once it is older
   * than `ageMs` and not among the newest `rows`. A watcher whose process stalls past both misses changes.
   * Default 10,000 rows and one minute.
   */
  changeLogRetention?: { rows: number; ageMs: number };
  /** The file must already be a Kedge store (it existed before this open): no schema is created in it. */
  existing?: boolean;
}

/** The store file inside a data dir. */
export const storeFileName = 'kedge.db';

/** Prune the change log once every this many writes of this process. */
const pruneEvery = 256;

/** What a write decides after reading the current row: the new row and the change, or nothing to do. */
type Mutation = { type: WatchEvent['type']; row: ObjectRow } | undefined;

/**
 * Opens (creating and migrating when needed) the embedded store `<dataDir>/kedge.db`. Several processes may open
 * one data dir at once: writes are serialised by SQLite, and each store's watchers see the others' changes.
 * A store file that exists but is empty, damaged, foreign or unreadable throws {@link StoreFileError} naming it:
 * only a file that did not exist is a new store.
 */
export async function openSqliteStore(
  dataDir: string,
  options: SqliteStoreOptions = {},
): Promise<SqliteStore> {
  await mkdir(dataDir, { recursive: true });
  const file = join(dataDir, storeFileName);
  const { created } = await prepareStoreFile(file);
  try {
    return new SqliteStore(file, { ...options, existing: !created });
  } catch (error) {
    throw storeOpenError(file, error);
  }
}

/**
 * The embedded {@link Store} on one SQLite file in WAL mode. Prefer {@link openSqliteStore}. Work is done
 * synchronously under the promise API (better-sqlite3): a write that waits for another process's write blocks
 * the event loop for at most `busyTimeoutMs`, then fails with SQLITE_BUSY. Reads never wait for writes.
 */
export class SqliteStore implements Store {
  private readonly db: Database.Database;
  private readonly feed: ChangeFeed;
  private readonly events: EventLog;
  private readonly history: HistoryLog;
  private readonly now: () => Date;
  private readonly statements;
  private readonly retention: { rows: number; ageMs: number };
  private writes = 0;
  private closed = false;

  constructor(
    readonly file: string,
    options: SqliteStoreOptions = {},
  ) {
    this.now = options.now ?? (() => new Date());
    this.retention = options.changeLogRetention ?? { rows: 10_000, ageMs: 60_000 };
    this.db = new Database(file, { fileMustExist: options.existing === true });
    try {
      this.db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 10_000}`);
      // Checked before anything is written: a foreign database is left exactly as it was.
      if (options.existing && !hasSchema(this.db))
        throw new StoreFileError(file, 'NotAKedgeStore', 'is an SQLite database but not a kedge store');
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');
      migrate(this.db, file);
    } catch (error) {
      this.db.close();
      throw error;
    }
    const db = this.db;
    this.statements = {
      get: db.prepare<[string, string, string], ObjectRow>(
        'SELECT * FROM objects WHERE kind = ? AND namespace = ? AND name = ?',
      ),
      listKind: db.prepare<[string], ObjectRow>(
        'SELECT * FROM objects WHERE kind = ? ORDER BY namespace, name',
      ),
      listNamespace: db.prepare<[string, string], ObjectRow>(
        'SELECT * FROM objects WHERE kind = ? AND namespace = ? ORDER BY name',
      ),
      nextResourceVersion: db.prepare<[], { value: number }>(
        "UPDATE counters SET value = value + 1 WHERE name = 'resource_version' RETURNING value",
      ),
      logChange: db.prepare<[string, string, string, number]>(
        'INSERT INTO changes (type, kind, object, created_at) VALUES (?, ?, ?, ?)',
      ),
      pruneChanges: db.prepare<[number, number]>('DELETE FROM changes WHERE seq <= ? AND created_at < ?'),
      upsert: db.prepare<ObjectRow>(
        `INSERT OR REPLACE INTO objects (kind, namespace, name, api_version, uid, resource_version, generation, labels,
           annotations, finalizers, body, status, creation_timestamp, deletion_timestamp, seq)
         VALUES (@kind, @namespace, @name, @api_version, @uid, @resource_version, @generation, @labels,
           @annotations, @finalizers, @body, @status, @creation_timestamp, @deletion_timestamp, @seq)`,
      ),
      remove: db.prepare<[string, string, string]>(
        'DELETE FROM objects WHERE kind = ? AND namespace = ? AND name = ?',
      ),
    };
    this.feed = new ChangeFeed(
      this.db,
      options.pollIntervalMs ?? 100,
      options.onWatchHandlerError ??
        ((error) => process.emitWarning(`kedge store watch handler failed: ${String(error)}`)),
    );
    this.events = new EventLog(this.db);
    this.history = new HistoryLog(this.db);
  }

  get(ref: ObjectRef): Promise<KObject | undefined> {
    return settled(() => {
      const row = this.statements.get.get(ref.kind, ref.namespace || 'default', ref.name);
      return row === undefined ? undefined : objectFromRow(row);
    });
  }

  list(kind: string, options: ListOptions = {}): Promise<KObject[]> {
    return settled(() => {
      const rows =
        options.namespace === undefined
          ? this.statements.listKind.all(kind)
          : this.statements.listNamespace.all(kind, options.namespace);
      const wanted = Object.entries(options.labels ?? {});
      const objects = rows.map(objectFromRow);
      if (wanted.length === 0) return objects;
      return objects.filter((object) =>
        wanted.every(([key, value]) => object.metadata.labels?.[key] === value),
      );
    });
  }

  apply(object: KObject): Promise<{ object: KObject; result: ApplyResult }> {
    return settled(() => {
      const ref = validRef(object);
      let result: ApplyResult = 'unchanged';
      const written = this.write(ref, (row) => {
        const desired = desiredColumns(object);
        if (row === undefined) {
          result = 'created';
          return { type: 'ADDED', row: this.newRow(ref, object) };
        }
        const next: ObjectRow = { ...row, ...desired, generation: nextGeneration(row, desired.body) };
        if (sameRow(row, next)) return undefined;
        result = 'configured';
        return { type: 'MODIFIED', row: next };
      });
      return { object: present(written), result };
    });
  }

  update(object: KObject): Promise<KObject> {
    return settled(() => {
      const ref = validRef(object);
      return present(
        this.write(ref, (row) => {
          if (row === undefined) throw new NotFoundError(ref);
          checkResourceVersion(ref, row, object.metadata.resourceVersion);
          const desired = desiredColumns(object);
          const next: ObjectRow = {
            ...row,
            ...desired,
            finalizers: JSON.stringify(object.metadata.finalizers ?? []),
            generation: nextGeneration(row, desired.body),
          };
          if (sameRow(row, next)) return undefined;
          if (next.deletion_timestamp !== null && next.finalizers === '[]')
            return { type: 'DELETED', row: next };
          return { type: 'MODIFIED', row: next };
        }),
      );
    });
  }

  updateStatus(ref: ObjectRef, status: unknown, resourceVersion?: string): Promise<KObject> {
    return settled(() => {
      return present(
        this.write(ref, (row) => {
          if (row === undefined) throw new NotFoundError(ref);
          checkResourceVersion(ref, row, resourceVersion);
          const next: ObjectRow = { ...row, status: status === undefined ? null : JSON.stringify(status) };
          if (jsonEqual(parse(row.status), parse(next.status))) return undefined;
          return { type: 'MODIFIED', row: next };
        }),
      );
    });
  }

  delete(ref: ObjectRef): Promise<boolean> {
    return settled(() => {
      const last = this.write(ref, (row) => {
        if (row === undefined) return undefined;
        if (row.finalizers === '[]') return { type: 'DELETED', row };
        if (row.deletion_timestamp !== null) return undefined;
        return { type: 'MODIFIED', row: { ...row, deletion_timestamp: toKubeTime(this.now()) } };
      });
      return last !== undefined;
    });
  }

  watch(kind: string | undefined, handler: (event: WatchEvent) => void): () => void {
    return this.feed.watch(kind, handler);
  }

  recordEvent(event: NewEvent): Promise<void> {
    return settled(() => {
      this.db.transaction(() => this.events.record(event, this.now())).immediate();
    });
  }

  listEvents(filter?: EventFilter): Promise<KedgeEvent[]> {
    return settled(() => {
      return this.events.list(filter);
    });
  }

  appendHistory(ref: ObjectRef, entry: HistoryEntry, keep: number): Promise<HistoryEntry> {
    return settled(() =>
      this.db
        .transaction(() => {
          if (this.statements.get.get(ref.kind, ref.namespace, ref.name) === undefined)
            throw new NotFoundError(ref);
          return this.history.append(ref, entry, keep);
        })
        .immediate(),
    );
  }

  listHistory(ref: ObjectRef, limit?: number): Promise<HistoryEntry[]> {
    return settled(() => this.history.entries(ref, limit));
  }

  listHistoryOfKind(kind: string): Promise<Array<{ ref: ObjectRef; entry: HistoryEntry }>> {
    return settled(() => this.history.entriesOfKind(kind));
  }

  deleteHistory(ref: ObjectRef): Promise<void> {
    return settled(() => {
      this.history.delete(ref);
    });
  }

  close(): Promise<void> {
    return settled(() => {
      if (this.closed) return;
      this.closed = true;
      this.feed.close();
      this.db.close();
    });
  }

  /**
   * Reads the object's row, lets `mutate` decide, and writes the result with a new resourceVersion and a
   * change-log entry, all in one immediate transaction so that a read-check-write is atomic across
   * processes. Delivers the change to watchers after commit. Returns the object as it now is (for a
   * deletion: its last state; for a no-op: as it was; undefined when there was and is no object).
   */
  private write(ref: ObjectRef, mutate: (row: ObjectRow | undefined) => Mutation): KObject | undefined {
    const namespace = ref.namespace || 'default';
    const written = this.db
      .transaction((): KObject | undefined => {
        const row = this.statements.get.get(ref.kind, namespace, ref.name);
        const mutation = mutate(row);
        if (mutation === undefined) return row === undefined ? undefined : objectFromRow(row);
        const next: ObjectRow = { ...mutation.row, kind: ref.kind, namespace, name: ref.name };
        next.resource_version = this.statements.nextResourceVersion.get()?.value ?? 0;
        const object = objectFromRow(next);
        const nowMs = this.now().getTime();
        const seq = Number(
          this.statements.logChange.run(mutation.type, ref.kind, JSON.stringify(object), nowMs)
            .lastInsertRowid,
        );
        if (mutation.type === 'DELETED') {
          this.statements.remove.run(ref.kind, namespace, ref.name);
          this.history.delete({ kind: ref.kind, namespace, name: ref.name });
        } else this.statements.upsert.run({ ...next, seq });
        if (++this.writes % pruneEvery === 0)
          this.statements.pruneChanges.run(seq - this.retention.rows, nowMs - this.retention.ageMs);
        return object;
      })
      .immediate();
    this.feed.drain();
    return written;
  }

  /** The row of a new object; kind, namespace, name, resourceVersion and seq are set by {@link write}. */
  private newRow(ref: ObjectRef, object: KObject): ObjectRow {
    return {
      ...ref,
      ...desiredColumns(object),
      uid: randomUUID(),
      generation: 1,
      finalizers: JSON.stringify(object.metadata.finalizers ?? []),
      status: null,
      creation_timestamp: toKubeTime(this.now()),
      deletion_timestamp: null,
      resource_version: 0,
      seq: 0,
    };
  }
}

/** The columns `apply` and `update` set from the object they are given. */
function desiredColumns(object: KObject): Pick<ObjectRow, 'api_version' | 'labels' | 'annotations' | 'body'> {
  return {
    api_version: object.apiVersion,
    labels: JSON.stringify(object.metadata.labels ?? {}),
    annotations: JSON.stringify(object.metadata.annotations ?? {}),
    body: JSON.stringify(bodyOf(object)),
  };
}

function nextGeneration(row: ObjectRow, body: string): number {
  const before = desiredStateOf(JSON.parse(row.body) as Record<string, unknown>);
  const after = desiredStateOf(JSON.parse(body) as Record<string, unknown>);
  return jsonEqual(before, after) ? row.generation : row.generation + 1;
}

/** True when no stored field differs (JSON fields compared regardless of key order). */
function sameRow(a: ObjectRow, b: ObjectRow): boolean {
  return (
    a.api_version === b.api_version &&
    a.generation === b.generation &&
    a.deletion_timestamp === b.deletion_timestamp &&
    (['labels', 'annotations', 'finalizers', 'body', 'status'] as const).every((column) =>
      jsonEqual(parse(a[column]), parse(b[column])),
    )
  );
}

/** Runs the synchronous `fn` and hands its outcome over as a promise, a throw as a rejection. */
function settled<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
}

/** The object a write returned; writes that create or throw NotFoundError always return one. */
function present(object: KObject | undefined): KObject {
  if (object === undefined)
    throw new Error('store write returned no object; this is a bug in the sqlite store');
  return object;
}

function parse(json: string | null): unknown {
  return json === null ? null : JSON.parse(json);
}

function checkResourceVersion(ref: ObjectRef, row: ObjectRow, resourceVersion: string | undefined): void {
  if (
    resourceVersion !== undefined &&
    resourceVersion !== '' &&
    resourceVersion !== String(row.resource_version)
  ) {
    throw new ConflictError(ref);
  }
}

function validRef(object: KObject): ObjectRef {
  const problems: string[] = [];
  if (typeof object.apiVersion !== 'string' || object.apiVersion === '')
    problems.push('apiVersion is missing');
  if (typeof object.kind !== 'string' || object.kind === '') problems.push('kind is missing');
  if (typeof object.metadata?.name !== 'string' || object.metadata.name === '')
    problems.push('metadata.name is missing');
  if (problems.length > 0) {
    throw new InvalidObjectError(
      `${problems.join(', ')} (${String(object.kind)} ${String(object.metadata?.name)})`,
    );
  }
  return { kind: object.kind, namespace: object.metadata.namespace || 'default', name: object.metadata.name };
}
