import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../helpers/cli';
import { startPostgres, type PgTestCluster } from '../../helpers/postgres';

/**
 * The throwaway PostgreSQL cluster (test/helpers/postgres.ts) and the PostgreSQL behaviour the
 * PostgreSQL store will build on (issue 15, "Several processes, one truth"), against the real
 * server: LISTEN/NOTIFY for following changes, advisory transaction locks for work done once per
 * deployment, and INSERT … ON CONFLICT DO NOTHING for shared nonces. Ordering is asserted through
 * the server's own lock view (pg_blocking_pids), never through sleeps.
 */

let cluster: PgTestCluster;
const clients: pg.Client[] = [];

beforeAll(async () => {
  cluster = await startPostgres();
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.end().catch(() => {})));
});

afterAll(async () => {
  await cluster?.stop();
});

async function connect(url = cluster.url): Promise<pg.Client> {
  const client = new pg.Client(cluster.clientConfig(url));
  clients.push(client);
  await client.connect();
  return client;
}

async function backendPid(client: pg.Client): Promise<number> {
  const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  return rows[0]!.pid;
}

/** Resolves once the session `waiter` is blocked by the session `holder` (bounded: 10 s). */
async function untilBlocked(observer: pg.Client, waiter: number, holder: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const { rows } = await observer.query<{ blocked: boolean }>(
      'SELECT $2::int = ANY(pg_blocking_pids($1)) AS blocked',
      [waiter, holder],
    );
    if (rows[0]!.blocked) return;
    if (Date.now() > deadline) throw new Error(`session ${waiter} never waited for ${holder}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** The next notification on `client`'s channel, or a rejection after `ms`. */
function nextNotification(client: pg.Client, ms: number): Promise<pg.Notification> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no notification within ${ms} ms`)), ms);
    client.once('notification', (message: pg.Notification) => {
      clearTimeout(timer);
      resolve(message);
    });
  });
}

/** Running and not a zombie (a killed server's parent may be slow to reap it). */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

async function refusesConnections(port: number): Promise<unknown> {
  const client = new pg.Client({ ...cluster.clientConfig(), port, connectionTimeoutMillis: 2_000 });
  client.on('error', () => {});
  return client.connect().then(
    () => client.end().then(() => 'connected'),
    (error: unknown) => error,
  );
}

describe('startPostgres', () => {
  it('serves PostgreSQL 15 at its url, as the airlock user, in the airlock database', async () => {
    expect(cluster.url).toBe(`postgres://airlock@127.0.0.1:${cluster.port}/airlock`);
    const client = await connect();
    const { rows } = await client.query<Record<string, string>>(
      `SELECT version(), current_setting('server_version_num') AS num, current_user AS "user",
              current_database() AS db`,
    );
    expect(rows[0]!.version).toMatch(/^PostgreSQL 15\.\d+ /);
    expect(Number(rows[0]!.num)).toBeGreaterThanOrEqual(150000);
    expect(Number(rows[0]!.num)).toBeLessThan(160000);
    expect(rows[0]).toMatchObject({ user: 'airlock', db: 'airlock' });
  });

  it('refuses a wrong password (scram-sha-256)', async () => {
    const client = new pg.Client({ ...cluster.clientConfig(), password: 'not-the-password' });
    client.on('error', () => {});
    await expect(client.connect()).rejects.toThrowWithCode('28P01');
  });

  it('listens on 127.0.0.1 only, keeps its socket in its own folder, runs without fsync', async () => {
    const client = await connect();
    const setting = async (name: string): Promise<string> =>
      (await client.query<{ value: string }>('SELECT current_setting($1) AS value', [name]))
        .rows[0]!.value;
    expect(await setting('listen_addresses')).toBe('127.0.0.1');
    expect(await setting('unix_socket_directories')).toBe(cluster.dir);
    expect(await setting('fsync')).toBe('off');
  });

  it('returns the PID of the postmaster itself, not a wrapper, owned by a user that is not root', () => {
    const postmasterPid = readFileSync(join(cluster.dir, 'data/postmaster.pid'), 'utf8');
    expect(postmasterPid.split('\n')[0]).toBe(String(cluster.pid));
    // /proc/PID belongs to the process's user: the folder's owner, `postgres` when we are root.
    const owner = statSync(`/proc/${cluster.pid}`).uid;
    expect(owner).toBe(statSync(cluster.dir).uid);
    expect(owner).not.toBe(0);
  });
});

describe('LISTEN / NOTIFY', () => {
  it('delivers a NOTIFY from one client to a LISTEN on another within a second', async () => {
    const listener = await connect();
    const notifier = await connect();
    await listener.query('LISTEN airlock_changes');
    const received = nextNotification(listener, 1_000);
    const sent = performance.now();
    await notifier.query(`SELECT pg_notify('airlock_changes', $1)`, ['{"seq":42}']);
    const message = await received;
    expect(performance.now() - sent).toBeLessThan(1_000);
    expect(message).toMatchObject({ channel: 'airlock_changes', payload: '{"seq":42}' });
    expect(message.processId).toBe(await backendPid(notifier));
  });

  it('delivers a NOTIFY sent inside a transaction at its commit, and never after a rollback', async () => {
    const listener = await connect();
    const notifier = await connect();
    await listener.query('LISTEN airlock_changes');
    const payloads: string[] = [];
    listener.on('notification', (message) => payloads.push(message.payload ?? ''));
    await notifier.query('BEGIN');
    await notifier.query(`NOTIFY airlock_changes, 'rolled back'`);
    await notifier.query('ROLLBACK');
    await notifier.query('BEGIN');
    await notifier.query(`NOTIFY airlock_changes, 'committed'`);
    const received = nextNotification(listener, 1_000);
    await notifier.query('COMMIT');
    expect((await received).payload).toBe('committed');
    expect(payloads).toEqual(['committed']);
  });

  it('refuses a payload of 8000 bytes or more (a notification carries a reference, not data)', async () => {
    const notifier = await connect();
    await expect(
      notifier.query(`SELECT pg_notify('airlock_changes', repeat('x', 7999))`),
    ).resolves.toBeDefined();
    await expect(
      notifier.query(`SELECT pg_notify('airlock_changes', repeat('x', 8000))`),
    ).rejects.toThrowWithCode('22023', 'payload string too long');
  });
});

describe('pg_advisory_xact_lock', () => {
  it('serialises two transactions: the second waits until the first commits, then sees its write', async () => {
    const first = await connect();
    const second = await connect();
    const observer = await connect();
    await observer.query('CREATE TABLE counter (id int PRIMARY KEY, n int NOT NULL)');
    await observer.query('INSERT INTO counter VALUES (1, 0)');
    const order: string[] = [];
    // Before the wait: a client runs one query at a time, so a blocked one cannot answer this.
    const [firstPid, secondPid] = [await backendPid(first), await backendPid(second)];

    await first.query('BEGIN');
    await first.query('SELECT pg_advisory_xact_lock(15)');
    const seen = (await first.query<{ n: number }>('SELECT n FROM counter WHERE id = 1')).rows[0]!;
    await second.query('BEGIN');
    const secondLocked = second.query('SELECT pg_advisory_xact_lock(15)').then(() => {
      order.push('second locked');
    });
    await untilBlocked(observer, secondPid, firstPid);
    // Work meant to happen once per deployment asks without waiting, and is told no.
    const tried = await observer.query<{ got: boolean }>(
      'SELECT pg_try_advisory_xact_lock(15) AS got',
    );
    expect(tried.rows[0]!.got).toBe(false);

    await first.query('UPDATE counter SET n = $1 WHERE id = 1', [seen.n + 1]);
    order.push('first commits');
    await first.query('COMMIT');
    await secondLocked;
    const next = (await second.query<{ n: number }>('SELECT n FROM counter WHERE id = 1')).rows[0]!;
    await second.query('UPDATE counter SET n = $1 WHERE id = 1', [next.n + 1]);
    await second.query('COMMIT');

    expect(order).toEqual(['first commits', 'second locked']);
    expect(next.n).toBe(1);
    const final = await observer.query<{ n: number }>('SELECT n FROM counter WHERE id = 1');
    expect(final.rows[0]!.n).toBe(2);
    await observer.query('DROP TABLE counter');
  });
});

describe('INSERT … ON CONFLICT DO NOTHING RETURNING (insert-if-absent)', () => {
  const INSERT = 'INSERT INTO nonces (nonce) VALUES ($1) ON CONFLICT DO NOTHING RETURNING nonce';

  beforeAll(async () => {
    const client = await connect();
    await client.query('CREATE TABLE nonces (nonce text PRIMARY KEY)');
  });

  afterAll(async () => {
    const client = await connect();
    await client.query('DROP TABLE nonces');
    await client.end();
  });

  it('returns the row to exactly one of eight clients racing on each of 25 keys', async () => {
    const racers = await Promise.all(Array.from({ length: 8 }, () => connect()));
    const keys = Array.from({ length: 25 }, (_, index) => `race-${index}`);
    const won = await Promise.all(
      keys.map(async (key) => {
        const results = await Promise.all(racers.map((client) => client.query(INSERT, [key])));
        return results.reduce((sum, result) => sum + (result.rowCount ?? 0), 0);
      }),
    );
    expect(won).toEqual(keys.map(() => 1));
    const stored = await racers[0]!.query(
      `SELECT count(*)::int AS n FROM nonces WHERE nonce LIKE 'race-%'`,
    );
    expect(stored.rows[0]).toEqual({ n: 25 });
  });

  it.each([
    ['commits', 0],
    ['rolls back', 1],
  ])(
    'makes a second insert wait for an uncommitted first one: when the first %s, the second gets %i rows',
    async (outcome, expected) => {
      const first = await connect();
      const second = await connect();
      const observer = await connect();
      const key = `pending-${outcome}`;
      await first.query('BEGIN');
      expect((await first.query(INSERT, [key])).rowCount).toBe(1);
      const [firstPid, secondPid] = [await backendPid(first), await backendPid(second)];
      const secondInsert = second.query(INSERT, [key]);
      await untilBlocked(observer, secondPid, firstPid);
      await first.query(outcome === 'commits' ? 'COMMIT' : 'ROLLBACK');
      expect((await secondInsert).rowCount).toBe(expected);
      const stored = await observer.query('SELECT nonce FROM nonces WHERE nonce = $1', [key]);
      expect(stored.rowCount).toBe(1);
    },
  );
});

describe('#createDatabase', () => {
  it('gives an isolated database at its own url', async () => {
    const urlA = await cluster.createDatabase('isolated_a');
    const urlB = await cluster.createDatabase('isolated_b');
    expect(urlA).toBe(`postgres://airlock@127.0.0.1:${cluster.port}/isolated_a`);
    const a = await connect(urlA);
    const b = await connect(urlB);
    await a.query('CREATE TABLE only_here (x int)');
    await a.query('INSERT INTO only_here VALUES (1)');
    const inB = await b.query<{ t: string | null }>(`SELECT to_regclass('only_here')::text AS t`);
    expect(inB.rows[0]!.t).toBeNull();
    const inMain = await (await connect()).query(`SELECT to_regclass('only_here')::text AS t`);
    expect(inMain.rows[0]).toEqual({ t: null });
    expect((await b.query<{ db: string }>('SELECT current_database() AS db')).rows[0]!.db).toBe(
      'isolated_b',
    );
  });

  it('refuses a name that is not a plain identifier', async () => {
    await expect(cluster.createDatabase('x"; DROP DATABASE airlock; --')).rejects.toThrow(
      /Not a plain database name/,
    );
  });
});

describe('#stop', () => {
  it('ends the server with a client still connected, frees the port and removes the folder', async () => {
    const other = await startPostgres();
    const client = new pg.Client(other.clientConfig());
    // The session's end arrives as 'error' events (the server's notice, then the closed socket).
    const clientError = new Promise<unknown>((resolve) => client.on('error', resolve));
    await client.connect();
    await other.stop();
    // Fast shutdown: the open session was ended by the server (57P01 admin_shutdown), not waited for.
    expect(await clientError).toMatchObject({ code: '57P01' });
    expect(running(other.pid)).toBe(false);
    expect(existsSync(other.dir)).toBe(false);
    expect(await refusesConnections(other.port)).toMatchObject({ code: 'ECONNREFUSED' });
    await expect(other.stop()).resolves.toBeUndefined();
  });

  // A test process that ends without stop(): normally (the exit handler) or by SIGKILL (the
  // watchdog, which sees its stdin close). Either way the server and the folder go.
  it.each(['exit', 'SIGKILL'])(
    'leaves no server behind when a test process ends by %s',
    async (how) => {
      const helper = pathToFileURL(join(REPO_ROOT, 'test/helpers/postgres.ts')).href;
      const script = [
        `import { startPostgres } from ${JSON.stringify(helper)};`,
        'const cluster = await startPostgres();',
        'console.log(JSON.stringify({ pid: cluster.pid, dir: cluster.dir, port: cluster.port }));',
        how === 'SIGKILL' ? 'setInterval(() => {}, 1000);' : '',
      ].join('\n');
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', '--input-type=module', '-e', script],
        {
          cwd: REPO_ROOT,
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      const started = await new Promise<{ pid: number; dir: string; port: number }>(
        (resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`no cluster: ${stderr}`)), 60_000);
          child.stdout.on('data', () => {
            if (!stdout.includes('\n')) return;
            clearTimeout(timer);
            resolve(
              JSON.parse(stdout.split('\n')[0]!) as { pid: number; dir: string; port: number },
            );
          });
          child.once('exit', () => reject(new Error(`exited before reporting: ${stderr}`)));
        },
      );
      expect(running(started.pid)).toBe(true);
      const exited = new Promise((resolve) => child.once('exit', resolve));
      if (how === 'SIGKILL') child.kill('SIGKILL');
      await exited;

      const deadline = Date.now() + 20_000;
      while ((running(started.pid) || existsSync(started.dir)) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(running(started.pid)).toBe(false);
      expect(existsSync(started.dir)).toBe(false);
      expect(await refusesConnections(started.port)).toMatchObject({ code: 'ECONNREFUSED' });
    },
  );
});
