import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, type Db } from '../../../src/main/db/connection';
import { AuditRepo, auditHash } from '../../../src/main/db/repositories/audit.repo';
import { makeTempDir, type TempDir } from '../../helpers/bundle-fixtures';

let tmp: TempDir;
let db: Db;
let audit: AuditRepo;

beforeEach(() => {
  tmp = makeTempDir('airlock-audit-');
  db = openStore(join(tmp.path, 'home'));
  audit = new AuditRepo(db);
  audit.append('key.created', 'local', { keyId: 'a'.repeat(64), type: 'identity' });
  audit.append('statement.proposed', 'a'.repeat(64), { statementId: 'b'.repeat(64) });
  audit.append('approval.signed', 'c'.repeat(64), { statementId: 'b'.repeat(64) });
  audit.append('push.queued', 'a'.repeat(64), { statementId: 'b'.repeat(64) });
});

afterEach(() => {
  db.close();
  tmp.cleanup();
});

describe('the local audit trail', () => {
  it('links every entry to the one before and verifies', () => {
    const entries = audit.list();
    expect(entries.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    expect(entries[1]?.prevHash).toBe(entries[0]?.hash);
    expect(audit.verify()).toEqual({ ok: true, entries: 4, head: entries[3]?.hash });
  });

  it('reports an entry whose details were edited', () => {
    db.prepare('UPDATE audit SET details_json = ? WHERE seq = 2').run('{"statementId":"evil"}');
    expect(audit.verify()).toMatchObject({ ok: false, brokenAt: 2 });
  });

  it('reports an entry whose actor or action was edited', () => {
    db.prepare("UPDATE audit SET actor = 'someone-else' WHERE seq = 3").run();
    expect(audit.verify()).toMatchObject({ ok: false, brokenAt: 3 });
  });

  it('reports a deleted entry', () => {
    db.prepare('DELETE FROM audit WHERE seq = 2').run();
    const verdict = audit.verify();
    expect(verdict).toMatchObject({ ok: false, brokenAt: 3 });
    expect(verdict.ok ? '' : verdict.reason).toContain('missing');
  });

  it('reports a rewritten entry even when its own hash was recomputed', () => {
    // A forger who recomputes entry 2's hash still breaks the link from entry 3.
    const entry = audit.list()[1];
    if (!entry) throw new Error('no entry 2');
    db.prepare("UPDATE audit SET time = '2020-01-01T00:00:00.000Z' WHERE seq = 2").run();
    const forged = auditHash(entry.prevHash, { ...entry, time: '2020-01-01T00:00:00.000Z' });
    db.prepare('UPDATE audit SET hash = ? WHERE seq = 2').run(forged);
    expect(audit.verify()).toMatchObject({ ok: false, brokenAt: 3 });
  });

  it('continues the chain after a reopen', () => {
    db.close();
    db = openStore(join(tmp.path, 'home'));
    audit = new AuditRepo(db);
    audit.append('server.connected', 'local', { url: 'http://127.0.0.1:1' });
    expect(audit.verify()).toMatchObject({ ok: true, entries: 5 });
  });
});
