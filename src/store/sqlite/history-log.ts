import type Database from 'better-sqlite3';
import type { HistoryEntry } from '../../api/history.ts';
import type { ObjectRef } from '../../api/meta.ts';

interface HistoryRow {
  id: number;
  kind: string;
  namespace: string;
  name: string;
  entry: string;
}

/**
 * The `history` table: one row per recorded reconcile, the entry as JSON, ids in write order (so newest first
 * is id descending). Not transactional by itself; the caller runs {@link HistoryLog.append} in a transaction.
 */
export class HistoryLog {
  private readonly insert: Database.Statement<unknown[]>;
  private readonly trim: Database.Statement<unknown[]>;
  private readonly list: Database.Statement<unknown[], HistoryRow>;
  private readonly ofKind: Database.Statement<[string], HistoryRow>;
  private readonly remove: Database.Statement<unknown[]>;

  constructor(db: Database.Database) {
    this.insert = db.prepare('INSERT INTO history (kind, namespace, name, entry) VALUES (?, ?, ?, ?)');
    this.trim = db.prepare(
      `DELETE FROM history WHERE kind = ? AND namespace = ? AND name = ? AND id <= (
         SELECT id FROM history WHERE kind = ? AND namespace = ? AND name = ? ORDER BY id DESC LIMIT 1 OFFSET ?)`,
    );
    this.list = db.prepare(
      'SELECT * FROM history WHERE kind = ? AND namespace = ? AND name = ? ORDER BY id DESC LIMIT ?',
    );
    this.ofKind = db.prepare('SELECT * FROM history WHERE kind = ? ORDER BY id DESC');
    this.remove = db.prepare('DELETE FROM history WHERE kind = ? AND namespace = ? AND name = ?');
  }

  append(ref: ObjectRef, entry: HistoryEntry, keep: number): HistoryEntry {
    const { id: _ignored, ...body } = entry;
    const result = this.insert.run(ref.kind, ref.namespace, ref.name, JSON.stringify(body));
    const key = [ref.kind, ref.namespace, ref.name];
    this.trim.run(...key, ...key, Math.max(1, keep));
    return { id: String(result.lastInsertRowid), ...body };
  }

  entries(ref: ObjectRef, limit = -1): HistoryEntry[] {
    return this.list.all(ref.kind, ref.namespace, ref.name, limit).map(entryOf);
  }

  entriesOfKind(kind: string): Array<{ ref: ObjectRef; entry: HistoryEntry }> {
    return this.ofKind
      .all(kind)
      .map((row) => ({
        ref: { kind: row.kind, namespace: row.namespace, name: row.name },
        entry: entryOf(row),
      }));
  }

  delete(ref: ObjectRef): void {
    this.remove.run(ref.kind, ref.namespace, ref.name);
  }
}

function entryOf(row: HistoryRow): HistoryEntry {
  return { id: String(row.id), ...(JSON.parse(row.entry) as HistoryEntry) };
}
