import type Database from 'better-sqlite3';
import type { KObject } from '../../api/meta.ts';
import type { WatchEvent } from '../store.ts';

interface Watcher {
  kind: string | undefined;
  handler: (event: WatchEvent) => void;
  /** Changes up to this sequence number happened before the watcher subscribed. */
  after: number;
}

interface ChangeRow {
  seq: number;
  type: WatchEvent['type'];
  kind: string;
  object: string;
}

/** How many change rows one drain step reads at most. */
const batchSize = 500;

/**
 * Delivers the store's change log to watchers: every change exactly once per watcher, in commit order,
 * whichever process wrote it. Writes of this process call {@link ChangeFeed.drain} right after committing;
 * writes of other processes are found by polling while at least one watcher is subscribed.
 */
export class ChangeFeed {
  private readonly watchers = new Set<Watcher>();
  private cursor = 0;
  private timer: NodeJS.Timeout | undefined;
  private draining = false;
  private drainAgain = false;
  private readonly maxSeq: Database.Statement<[], { seq: number | null }>;
  private readonly since: Database.Statement<[number, number], ChangeRow>;

  constructor(
    db: Database.Database,
    private readonly pollMs: number,
    private readonly onHandlerError: (error: unknown) => void,
  ) {
    this.maxSeq = db.prepare('SELECT max(seq) AS seq FROM changes');
    this.since = db.prepare('SELECT seq, type, kind, object FROM changes WHERE seq > ? ORDER BY seq LIMIT ?');
  }

  /** Subscribes `handler` to changes of `kind` (all kinds when undefined) committed from now on. */
  watch(kind: string | undefined, handler: (event: WatchEvent) => void): () => void {
    const after = this.maxSeq.get()?.seq ?? 0;
    if (this.watchers.size === 0) {
      this.cursor = after;
      this.timer = setInterval(() => this.drain(), this.pollMs);
      this.timer.unref();
    }
    const watcher: Watcher = { kind, handler, after };
    this.watchers.add(watcher);
    return () => {
      if (!this.watchers.delete(watcher) || this.watchers.size > 0) return;
      this.stopPolling();
    };
  }

  /**
   * Delivers every change committed since the last drain. Re-entrant calls (a handler that writes) are folded
   * into the running drain so that delivery stays in order.
   */
  drain(): void {
    if (this.watchers.size === 0) return;
    if (this.draining) {
      this.drainAgain = true;
      return;
    }
    this.draining = true;
    try {
      let full: boolean;
      do {
        this.drainAgain = false;
        const rows = this.since.all(this.cursor, batchSize);
        for (const row of rows) {
          this.cursor = row.seq;
          this.deliver(row);
        }
        full = rows.length === batchSize;
      } while ((this.drainAgain || full) && this.watchers.size > 0);
    } finally {
      this.draining = false;
    }
  }

  /** Drops every watcher and stops polling. */
  close(): void {
    this.watchers.clear();
    this.stopPolling();
  }

  private deliver(row: ChangeRow): void {
    for (const watcher of [...this.watchers]) {
      if (!this.watchers.has(watcher) || row.seq <= watcher.after) continue;
      if (watcher.kind !== undefined && watcher.kind !== row.kind) continue;
      try {
        watcher.handler({ type: row.type, object: JSON.parse(row.object) as KObject });
      } catch (error) {
        this.onHandlerError(error);
      }
    }
  }

  private stopPolling(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }
}
