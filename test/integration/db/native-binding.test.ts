import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AirlockError } from '../../../src/core/errors';
import { databasePath, openDatabase, openStore, type Db } from '../../../src/main/db/connection';
import { schemaVersion } from '../../../src/main/db/migrate';
import { MIGRATIONS } from '../../../src/main/db/migrations';
import { ConsoleServices } from '../../../src/main/services/console';
import { NODE_SQLITE_ADDON } from '../../helpers/cli';
import { makeTempDir, type TempDir } from '../../helpers/bundle-fixtures';

/**
 * The `nativeBinding` option src/main/index.ts uses to load better-sqlite3's Electron build from
 * `.electron-native/` when the console runs from a checkout. Electron cannot run here, so the
 * binding given is the Node build's own binary, at its real path.
 */

let tmp: TempDir | undefined;
const open: Db[] = [];

function home(name: string): string {
  tmp ??= makeTempDir('airlock-binding-');
  return join(tmp.path, name);
}

function thrownBy(action: () => unknown): unknown {
  try {
    action();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}

afterEach(() => {
  for (const db of open.splice(0)) db.close();
  tmp?.cleanup();
  tmp = undefined;
});

describe('openDatabase with nativeBinding', () => {
  it('opens and migrates a store with the addon it is given, and loads that file', () => {
    // A copy at a path of its own, so the module cache shows which file was loaded.
    const binding = join(home('engine'), 'better_sqlite3.node');
    mkdirSync(dirname(binding), { recursive: true });
    copyFileSync(NODE_SQLITE_ADDON, binding);
    const db = openStore(home('store'), { nativeBinding: binding });
    open.push(db);
    expect(schemaVersion(db)).toBe(MIGRATIONS.at(-1)?.version);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    // better-sqlite3 `require`s the addon path it is given, so it is in the module cache.
    expect(Object.keys(createRequire(import.meta.url).cache)).toContain(binding);
  });

  it('is threaded through ConsoleServices.open', () => {
    const dir = home('services');
    const services = ConsoleServices.open(dir, { nativeBinding: NODE_SQLITE_ADDON });
    try {
      expect(services.servers()).toEqual([]);
      expect(services.db.name).toBe(databasePath(dir));
    } finally {
      services.close();
    }
  });

  it('refuses a binding that does not exist with IO_ERROR naming the path', () => {
    const missing = join(home('x'), '.electron-native', 'better_sqlite3.node');
    const dbPath = join(home('never'), 'airlock.db');
    const error = thrownBy(() => openDatabase(dbPath, { nativeBinding: missing }));
    expect(error).toBeInstanceOf(AirlockError);
    expect(error).toMatchObject({
      code: 'IO_ERROR',
      message: `Cannot load SQLite from ${missing}: the file does not exist.`,
    });
    expect(existsSync(dbPath)).toBe(false);
  });

  it('refuses a file that is not an addon with IO_ERROR naming it and the database', () => {
    const notAnAddon = join(home('bad'), 'better_sqlite3.node');
    mkdirSync(dirname(notAnAddon), { recursive: true });
    writeFileSync(notAnAddon, 'not a shared library');
    const dbPath = join(home('bad'), 'airlock.db');
    const error = thrownBy(() => openDatabase(dbPath, { nativeBinding: notAnAddon }));
    expect(error).toBeInstanceOf(AirlockError);
    expect(error).toMatchObject({
      code: 'IO_ERROR',
      message: `Cannot open the database at ${dbPath} with SQLite from ${notAnAddon}.`,
    });
  });
});
