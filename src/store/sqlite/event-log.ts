import type Database from 'better-sqlite3';
import type { KedgeEvent } from '../../api/meta.ts';
import { toKubeTime } from '../kube-time.ts';
import type { EventFilter } from '../store.ts';

/** An event as the store is asked to record it; the store owns id, count and timestamps. */
export type NewEvent = Omit<KedgeEvent, 'id' | 'count' | 'firstTimestamp' | 'lastTimestamp'>;

interface EventRow {
  id: number;
  kind: string;
  namespace: string;
  name: string;
  api_version: string;
  uid: string | null;
  type: KedgeEvent['type'];
  reason: string;
  message: string;
  annotations: string | null;
  reporting_controller: string;
  first_timestamp: string;
  last_timestamp: string;
  count: number;
}

/** Identical events seen within this window are folded into one row, as Kubernetes' event correlator does. */
export const eventFoldWindowMs = 60 * 60 * 1000;
/** Events kept per object; older ones are dropped. */
export const eventsPerObject = 1000;

/**
 * The `events` table: records events, folding repeats, and lists them newest first. Not transactional by
 * itself; the caller runs {@link EventLog.record} inside an immediate transaction.
 */
export class EventLog {
  private readonly findRepeat: Database.Statement<unknown[], { id: number }>;
  private readonly fold: Database.Statement<unknown[]>;
  private readonly insert: Database.Statement<unknown[]>;
  private readonly trim: Database.Statement<unknown[]>;
  private readonly nextTouched: Database.Statement<[], { touched: number }>;

  constructor(private readonly db: Database.Database) {
    this.nextTouched = db.prepare('SELECT coalesce(max(touched), 0) + 1 AS touched FROM events');
    this.findRepeat = db.prepare(
      `SELECT id FROM events WHERE kind = ? AND namespace = ? AND name = ? AND type = ? AND reason = ? AND message = ?
         AND last_seen_ms >= ? ORDER BY touched DESC LIMIT 1`,
    );
    this.fold = db.prepare(
      `UPDATE events SET count = count + 1, last_timestamp = ?, last_seen_ms = ?, touched = ?, annotations = ?,
         uid = coalesce(?, uid), reporting_controller = ? WHERE id = ?`,
    );
    this.insert = db.prepare(
      `INSERT INTO events (kind, namespace, name, api_version, uid, type, reason, message, annotations,
         reporting_controller, first_timestamp, last_timestamp, last_seen_ms, count, touched)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?)`,
    );
    this.trim = db.prepare(
      `DELETE FROM events WHERE kind = ? AND namespace = ? AND name = ? AND touched <= (
         SELECT touched FROM events WHERE kind = ? AND namespace = ? AND name = ? ORDER BY touched DESC LIMIT 1 OFFSET ?)`,
    );
  }

  /** Records `event` at `now`, folding it into an identical one from the last hour. */
  record(event: NewEvent, now: Date): void {
    const { kind, name, apiVersion } = event.involvedObject;
    const namespace = event.involvedObject.namespace || 'default';
    const timestamp = toKubeTime(now);
    const annotations = event.annotations === undefined ? null : JSON.stringify(event.annotations);
    const uid = event.involvedObject.uid ?? null;
    const touched = this.nextTouched.get()?.touched ?? 1;
    const repeat = this.findRepeat.get(
      kind,
      namespace,
      name,
      event.type,
      event.reason,
      event.message,
      now.getTime() - eventFoldWindowMs,
    );
    if (repeat !== undefined) {
      this.fold.run(
        timestamp,
        now.getTime(),
        touched,
        annotations,
        uid,
        event.reportingController,
        repeat.id,
      );
      return;
    }
    this.insert.run(
      kind,
      namespace,
      name,
      apiVersion,
      uid,
      event.type,
      event.reason,
      event.message,
      annotations,
      event.reportingController,
      timestamp,
      timestamp,
      now.getTime(),
      touched,
    );
    this.trim.run(kind, namespace, name, kind, namespace, name, eventsPerObject);
  }

  /** Events matching `filter`, most recently seen first. */
  list(filter: EventFilter = {}): KedgeEvent[] {
    const where: string[] = [];
    const params: unknown[] = [];
    for (const [column, value] of [
      ['kind', filter.kind],
      ['namespace', filter.namespace],
      ['name', filter.name],
    ] as const) {
      if (value === undefined) continue;
      where.push(`${column} = ?`);
      params.push(value);
    }
    const sql = `SELECT * FROM events ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY touched DESC LIMIT ?`;
    const rows = this.db.prepare<unknown[], EventRow>(sql).all(...params, filter.limit ?? 100);
    return rows.map(eventFromRow);
  }
}

function eventFromRow(row: EventRow): KedgeEvent {
  return {
    id: row.id,
    type: row.type,
    reason: row.reason,
    message: row.message,
    involvedObject: {
      apiVersion: row.api_version,
      kind: row.kind,
      namespace: row.namespace,
      name: row.name,
      ...(row.uid === null ? {} : { uid: row.uid }),
    },
    ...(row.annotations === null
      ? {}
      : { annotations: JSON.parse(row.annotations) as Record<string, string> }),
    reportingController: row.reporting_controller,
    firstTimestamp: row.first_timestamp,
    lastTimestamp: row.last_timestamp,
    count: row.count,
  };
}
