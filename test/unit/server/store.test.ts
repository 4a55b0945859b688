import Database from 'better-sqlite3';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bytesToHex, rootId, sha256 } from '../../../src/core';
import { dataDirPaths } from '../../../src/server/data-dir';
import { initServer } from '../../../src/server/init';
import { loadServerKey } from '../../../src/server/server-key';
import { BundleFiles } from '../../../src/server/store/bundle-files';
import { migrate, sqlMigration } from '../../../src/core/db';
import { MIGRATIONS } from '../../../src/server/store/migrations';
import { openSqliteStore } from '../../../src/server/store/sqlite-store';
import type { SignedTrustRoot } from '../../../src/shared/schemas';
import { testIdentity } from '../core/test-identities';

// TEST-ONLY identities.
const alice = testIdentity('store alice');
const bob = testIdentity('store bob');

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'airlock-store-unit-'));
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('migrations (ARCHITECTURE.md rule 11)', () => {
  it('migration 0010 creates the schema from an empty database, once', () => {
    const db = new Database(':memory:');
    expect(migrate(db, MIGRATIONS.slice(0, 1))).toEqual([10]);
    expect(db.pragma('user_version', { simple: true })).toBe(10);
    const tables = (
      db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as {
        name: string;
      }[]
    ).map((row) => row.name);
    expect(tables).toEqual(
      expect.arrayContaining([
        'apps',
        'approvals',
        'channels',
        'log',
        'nonces',
        'roots',
        'stats',
        'statements',
      ]),
    );
    expect(migrate(db, MIGRATIONS.slice(0, 1))).toEqual([]);
  });

  it('migration 0020 keeps channels and adds the per-channel key and the evidence tables', () => {
    const db = new Database(':memory:');
    migrate(db, MIGRATIONS.slice(0, 1));
    db.prepare("INSERT INTO apps (app, created_at) VALUES ('com.example.app', 't')").run();
    db.prepare(
      `INSERT INTO channels (app, name, settings, seq, head, created_at)
       VALUES ('com.example.app', 'production', '{}', 3, 'h', 't')`,
    ).run();
    expect(migrate(db, MIGRATIONS.slice(0, 2))).toEqual([20]);
    expect(db.prepare('SELECT seq, bundle_public_key, counting_since FROM channels').get()).toEqual(
      {
        seq: 3,
        bundle_public_key: null,
        counting_since: 0,
      },
    );
    const tables = (
      db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]
    ).map((row) => row.name);
    expect(tables).toEqual(
      expect.arrayContaining([
        'checked_bundles',
        'evidence_devices',
        'evidence_sources',
        'evidence_totals',
      ]),
    );
  });

  it('refuses a database from a newer Airlock', () => {
    const db = new Database(':memory:');
    db.pragma('user_version = 9999');
    expect(() => migrate(db, MIGRATIONS)).toThrowWithCode('DB_FROM_FUTURE');
  });

  it('runs all pending migrations in one transaction: a failing one leaves nothing', () => {
    const db = new Database(':memory:');
    const broken = [
      ...MIGRATIONS,
      sqlMigration(9990, 'broken', 'CREATE TABLE x (a); SELECT nope FROM nowhere;'),
    ];
    expect(() => migrate(db, broken)).toThrow();
    expect(db.pragma('user_version', { simple: true })).toBe(0);
    expect(
      db.prepare("SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table'").get(),
    ).toEqual({ n: 0 });
  });

  it('refuses migrations out of order', () => {
    const db = new Database(':memory:');
    const unordered = [sqlMigration(20, 'b', ''), sqlMigration(10, 'a', '')];
    expect(() => migrate(db, unordered)).toThrowWithCode('INTERNAL');
  });
});

describe('#initServer', () => {
  it('creates the key (0600), the database with root v1 unsigned, and the bundle folders', async () => {
    const dataDir = join(dir, 'data');
    const now = new Date('2026-11-24T10:00:00Z');
    const result = await initServer({
      dataDir,
      admins: [alice.publicKeyHex, bob.publicKeyHex],
      rootThreshold: 2,
      now,
    });
    const paths = dataDirPaths(dataDir);
    expect(statSync(paths.serverKey).mode & 0o777).toBe(0o600);
    expect(loadServerKey(paths.serverKey).info).toEqual(result.serverKey);
    const store = openSqliteStore(paths, loadServerKey(paths.serverKey));
    try {
      const [first] = (await store.rootChain()) as [SignedTrustRoot];
      expect(first.signatures).toEqual([]);
      expect(rootId(first.root)).toBe(result.rootId);
      expect(first.root).toMatchObject({
        version: 1,
        rootThreshold: 2,
        expiresAt: '2027-11-24T10:00:00Z',
      });
      expect(first.root.members.map((member) => member.keyId)).toEqual([alice.keyId, bob.keyId]);
      expect(first.root.policies).toHaveLength(5);
      expect(
        first.root.policies.every((policy) => policy.threshold === 1 && !policy.proposerCounts),
      ).toBe(true);
    } finally {
      await store.close();
    }
  });

  it('refuses a non-empty data directory, bad keys, and a threshold above the admins', async () => {
    writeFileSync(join(dir, 'something'), 'x');
    await expect(
      initServer({ dataDir: dir, admins: [alice.publicKeyHex] }),
    ).rejects.toThrowWithCode('DATA_DIR_EXISTS');
    const fresh = join(dir, 'fresh');
    await expect(initServer({ dataDir: fresh, admins: ['00'.repeat(32)] })).rejects.toThrowWithCode(
      'KEY_INVALID',
    );
    await expect(initServer({ dataDir: fresh, admins: [] })).rejects.toThrowWithCode(
      'INVALID_ARGUMENT',
    );
    await expect(
      initServer({ dataDir: fresh, admins: [alice.publicKeyHex, alice.publicKeyHex] }),
    ).rejects.toThrowWithCode('INVALID_ARGUMENT');
    await expect(
      initServer({ dataDir: fresh, admins: [alice.publicKeyHex], rootThreshold: 2 }),
    ).rejects.toThrowWithCode('INVALID_INPUT');
  });
});

describe('#loadServerKey', () => {
  it('refuses a key file that other users can read', async () => {
    const dataDir = join(dir, 'data');
    await initServer({ dataDir, admins: [alice.publicKeyHex] });
    const { serverKey } = dataDirPaths(dataDir);
    chmodSync(serverKey, 0o644);
    expect(() => loadServerKey(serverKey)).toThrowWithCode('SERVER_KEY_UNSAFE');
  });
});

describe('BundleFiles', () => {
  function source(...chunks: Uint8Array[]): AsyncIterable<Uint8Array> {
    return (async function* generate() {
      for (const chunk of chunks) {
        await Promise.resolve();
        yield chunk;
      }
    })();
  }

  it('publishes a complete, hash-checked file under bundles/<aa>/<sha256>', async () => {
    const files = new BundleFiles(join(dir, 'bundles'), join(dir, 'bundles', 'tmp'));
    const bytes = new TextEncoder().encode('encrypted bundle bytes');
    const sha = bytesToHex(sha256(bytes));
    expect(await files.put(sha, source(bytes.subarray(0, 5), bytes.subarray(5)), 1000)).toEqual({
      created: true,
      size: bytes.length,
    });
    expect(files.file(sha)).toEqual({
      path: join(dir, 'bundles', sha.slice(0, 2), sha),
      size: bytes.length,
    });
    expect(await files.put(sha, source(bytes), 1000)).toEqual({
      created: false,
      size: bytes.length,
    });
    expect(readdirSync(join(dir, 'bundles', 'tmp'))).toEqual([]);
  });

  it('keeps nothing when the bytes do not match or are too large', async () => {
    const files = new BundleFiles(join(dir, 'bundles'), join(dir, 'bundles', 'tmp'));
    const bytes = new TextEncoder().encode('some bytes');
    const wrong = 'ab'.repeat(32);
    await expect(files.put(wrong, source(bytes), 1000)).rejects.toThrowWithCode('BUNDLE_MISMATCH');
    const sha = bytesToHex(sha256(bytes));
    await expect(files.put(sha, source(bytes), 4)).rejects.toThrowWithCode('PAYLOAD_TOO_LARGE');
    expect(files.file(wrong)).toBeNull();
    expect(files.file(sha)).toBeNull();
    expect(readdirSync(join(dir, 'bundles', 'tmp'))).toEqual([]);
  });

  it('finds nothing for names that are not a lowercase hex SHA-256', () => {
    const files = new BundleFiles(join(dir, 'bundles'), join(dir, 'bundles', 'tmp'));
    for (const name of ['../server.db', 'AB'.repeat(32), 'ab', ''])
      expect(files.file(name)).toBeNull();
  });

  it('removes leftovers of interrupted uploads at start-up', () => {
    const files = new BundleFiles(join(dir, 'bundles'), join(dir, 'bundles', 'tmp'));
    writeFileSync(join(dir, 'bundles', 'tmp', 'abc.part'), 'partial');
    files.cleanTemp();
    expect(readdirSync(join(dir, 'bundles', 'tmp'))).toEqual([]);
  });
});
