import type Database from 'better-sqlite3';

/** The data dir was written by a newer Kedge whose schema this one does not know. */
export class SchemaTooNewError extends Error {
  constructor(
    readonly file: string,
    readonly found: number,
    readonly known: number,
  ) {
    super(
      `store ${file} has schema version ${found} but this kedge knows only up to ${known}; upgrade kedge`,
    );
    this.name = 'SchemaTooNewError';
  }
}

/** Migrations in order; migration `i` brings the schema from version `i` to `i + 1`. Never edit a shipped one. */
const migrations: string[] = [
  `
  CREATE TABLE objects (
    kind               TEXT    NOT NULL,
    namespace          TEXT    NOT NULL,
    name               TEXT    NOT NULL,
    api_version        TEXT    NOT NULL,
    uid                TEXT    NOT NULL,
    resource_version   INTEGER NOT NULL,
    generation         INTEGER NOT NULL,
    labels             TEXT    NOT NULL,
    annotations        TEXT    NOT NULL,
    finalizers         TEXT    NOT NULL,
    body               TEXT    NOT NULL,
    status             TEXT,
    creation_timestamp TEXT    NOT NULL,
    deletion_timestamp TEXT,
    seq                INTEGER NOT NULL,
    PRIMARY KEY (kind, namespace, name)
  ) WITHOUT ROWID;

  CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
  INSERT INTO counters (name, value) VALUES ('resource_version', 0);

  CREATE TABLE changes (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    type       TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    object     TEXT    NOT NULL,
    created_at INTEGER NOT NULL
  );

  CREATE TABLE events (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    kind                 TEXT    NOT NULL,
    namespace            TEXT    NOT NULL,
    name                 TEXT    NOT NULL,
    api_version          TEXT    NOT NULL,
    uid                  TEXT,
    type                 TEXT    NOT NULL,
    reason               TEXT    NOT NULL,
    message              TEXT    NOT NULL,
    annotations          TEXT,
    reporting_controller TEXT    NOT NULL,
    first_timestamp      TEXT    NOT NULL,
    last_timestamp       TEXT    NOT NULL,
    last_seen_ms         INTEGER NOT NULL,
    count                INTEGER NOT NULL,
    touched              INTEGER NOT NULL
  );
  CREATE INDEX events_by_object ON events (kind, namespace, name, touched);
  CREATE INDEX events_by_touched ON events (touched);
  `,
  `
  CREATE TABLE history (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    kind      TEXT    NOT NULL,
    namespace TEXT    NOT NULL,
    name      TEXT    NOT NULL,
    entry     TEXT    NOT NULL
  );
  CREATE INDEX history_by_object ON history (kind, namespace, name, id);
  `,
];

/** The schema version this code writes. */
export const schemaVersion = migrations.length;

/** True when the database has Kedge's schema table (it is a Kedge store, possibly of another version). */
export function hasSchema(db: Database.Database): boolean {
  return (
    db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'").get() !==
    undefined
  );
}

/**
 * Brings the database to {@link schemaVersion}, each migration in its own immediate transaction so that
 * several processes opening one data dir at once migrate it exactly once.
 */
export function migrate(db: Database.Database, file: string): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)');
  const current = (): number =>
    (db.prepare('SELECT max(version) AS version FROM schema_version').get() as { version: number | null })
      .version ?? 0;
  for (;;) {
    const done = db
      .transaction(() => {
        const version = current();
        if (version > schemaVersion) throw new SchemaTooNewError(file, version, schemaVersion);
        const migration = migrations[version];
        if (migration === undefined) return true;
        db.exec(migration);
        db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(version + 1);
        return false;
      })
      .immediate();
    if (done) return;
  }
}
