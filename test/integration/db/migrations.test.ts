import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { databasePath, openDatabase, openStore, type Db } from '../../../src/main/db/connection';
import { migrate, schemaVersion } from '../../../src/main/db/migrate';
import { MIGRATIONS } from '../../../src/main/db/migrations';
import { makeTempDir, type TempDir } from '../../helpers/bundle-fixtures';

/** Real SQLite files in a temp folder: the console's store exactly as it runs (ARCHITECTURE.md §10). */
let tmp: TempDir | undefined;
const open: Db[] = [];

function freshDb(): Db {
  tmp ??= makeTempDir('airlock-db-');
  const db = openDatabase(join(tmp.path, `db-${open.length}.sqlite`));
  open.push(db);
  return db;
}

function tables(db: Db): string[] {
  return db
    .prepare<[], { name: string }>(
      "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
    )
    .all()
    .map((row) => row.name);
}

function upTo(version: number): typeof MIGRATIONS {
  return MIGRATIONS.filter((migration) => migration.version <= version);
}

afterEach(() => {
  for (const db of open.splice(0)) db.close();
  tmp?.cleanup();
  tmp = undefined;
});

describe('console store migrations', () => {
  it('brings an empty database to the latest version, with WAL and foreign keys on', () => {
    const db = freshDb();
    expect(schemaVersion(db)).toBe(0);
    expect(migrate(db, MIGRATIONS)).toEqual(MIGRATIONS.map((m) => m.version));
    expect(schemaVersion(db)).toBe(MIGRATIONS.at(-1)?.version);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(migrate(db, MIGRATIONS)).toEqual([]);
  });

  it('0010 creates settings, servers, apps, channels, bundles, statements and approvals', () => {
    const db = freshDb();
    migrate(db, upTo(10));
    expect(tables(db)).toEqual([
      'approvals',
      'apps',
      'bundles',
      'channels',
      'servers',
      'settings',
      'statements',
    ]);
    // Approvals belong to a statement: the foreign key holds.
    expect(() =>
      db
        .prepare(
          "INSERT INTO approvals (statement_id, key_id, sig, source, added_at) VALUES ('x', 'k', 's', 'cli', 'now')",
        )
        .run(),
    ).toThrow(/FOREIGN KEY/);
  });

  it('0020 adds the log mirror and keeps what 0010 stored', () => {
    const db = freshDb();
    migrate(db, upTo(10));
    db.prepare("INSERT INTO settings (key, value) VALUES ('theme', 'dark')").run();
    expect(migrate(db, upTo(20))).toEqual([20]);
    expect(tables(db)).toEqual(
      expect.arrayContaining(['log_entries', 'checkpoints', 'mirror_findings']),
    );
    expect(db.prepare('SELECT value FROM settings WHERE key = ?').pluck().get('theme')).toBe(
      'dark',
    );
  });

  it('0030 adds the outbox and the audit trail and keeps what 0020 stored', () => {
    const db = freshDb();
    migrate(db, upTo(20));
    db.prepare(
      "INSERT INTO servers (url, pinned_root_id, root_version, root_json, server_key_id, server_public_key, added_at) VALUES ('http://127.0.0.1:1', 'r', 1, '{}', 'k', 'p', 'now')",
    ).run();
    expect(migrate(db, upTo(30))).toEqual([30]);
    expect(tables(db)).toEqual(expect.arrayContaining(['outbox', 'audit']));
    expect(db.prepare('SELECT count(*) FROM servers').pluck().get()).toBe(1);
    // The outbox refuses a second item with the same idempotency key.
    const insert = db.prepare(
      "INSERT INTO outbox (idempotency_key, server_url, kind, payload_json, state, next_attempt_at, created_at) VALUES ('k1', 'u', 'push', '{}', 'pending', 'now', 'now')",
    );
    insert.run();
    expect(() => insert.run()).toThrow(/UNIQUE/);
  });

  it('0040 keeps outbox items, adds their error code and drops the tables nothing read', () => {
    const db = freshDb();
    migrate(db, upTo(30));
    db.prepare(
      "INSERT INTO outbox (idempotency_key, server_url, kind, payload_json, state, next_attempt_at, last_error, created_at) VALUES ('k1', 'u', 'push', '{}', 'failed', 'now', 'refused', 'now')",
    ).run();
    expect(migrate(db, upTo(40))).toEqual([40]);
    expect(db.prepare('SELECT last_error, last_error_code FROM outbox').get()).toEqual({
      last_error: 'refused',
      last_error_code: null,
    });
    expect(tables(db)).not.toEqual(expect.arrayContaining(['settings']));
    for (const gone of ['settings', 'apps', 'channels']) expect(tables(db)).not.toContain(gone);
  });

  it('migrates from every earlier version to the latest', () => {
    for (const start of [0, ...MIGRATIONS.map((m) => m.version)]) {
      const db = freshDb();
      migrate(db, upTo(start));
      expect(schemaVersion(db)).toBe(start);
      migrate(db, MIGRATIONS);
      expect(schemaVersion(db)).toBe(MIGRATIONS.at(-1)?.version);
      expect(tables(db)).toContain('audit');
    }
  });

  it('refuses a database from a newer Airlock and leaves it untouched', () => {
    const db = freshDb();
    migrate(db, MIGRATIONS);
    db.pragma('user_version = 9990');
    expect(() => migrate(db, MIGRATIONS)).toThrow(/newer than this Airlock understands/);
    expect(schemaVersion(db)).toBe(9990);
  });

  it('rolls every pending step back when one fails: no half-applied schema', () => {
    const db = freshDb();
    const broken = [
      ...MIGRATIONS,
      {
        version: 9000,
        name: 'broken',
        up(target: Db) {
          target.exec('CREATE TABLE half (x)');
          throw new Error('boom');
        },
      },
    ];
    expect(() => migrate(db, broken)).toThrow('boom');
    // One transaction for all pending steps (ARCHITECTURE.md rule 11): the database is as it was.
    expect(schemaVersion(db)).toBe(0);
    expect(tables(db)).toEqual([]);
  });

  it('openStore creates the data directory and its database file', () => {
    tmp ??= makeTempDir('airlock-db-');
    const dir = join(tmp.path, 'home', 'nested');
    const db = openStore(dir);
    open.push(db);
    expect(existsSync(databasePath(dir))).toBe(true);
    expect(schemaVersion(db)).toBe(MIGRATIONS.at(-1)?.version);
  });
});
