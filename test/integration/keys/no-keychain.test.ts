import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AirlockError } from '../../../src/core/errors';
import { createOsKeychain, type KeytarApi } from '../../../src/main/keys/keychain';
import { REPO_ROOT } from '../../helpers/cli';

// ARCHITECTURE.md §2: "When no OS keychain is reachable, Airlock says so in one clear sentence and
// refuses to create or use private keys. No silent fallback to a file." Each case runs the real
// keytar in a fresh process (test/helpers/keychain-probe.ts) under a different broken D-Bus setup.

const TSX = join(REPO_ROOT, 'node_modules/.bin/tsx');
const PROBE = join(REPO_ROOT, 'test/helpers/keychain-probe.ts');
const SENTENCE =
  /^No OS keychain is reachable \(([^)]+)\): Airlock needs the Secret Service \(gnome-keyring or KWallet\) on a D-Bus session to store private keys, and will not fall back to files\.$/;

// A session bus with no service activation at all: nothing can provide org.freedesktop.secrets.
const BARE_BUS_CONFIG = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:tmpdir=/tmp</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`;

interface ProbeReport {
  readonly ok: boolean;
  readonly code?: string;
  readonly message?: string;
  readonly count?: number;
  /** How long the keychain call took inside the probe. */
  readonly ms: number;
}

interface Spawned {
  readonly report: ProbeReport;
  /** Wall time of the whole child, tsx start-up included. */
  readonly wallMs: number;
  readonly stderr: string;
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<Spawned> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const line = stdout.split('\n').find((l) => l.startsWith('{'));
      if (line === undefined) {
        reject(new Error(`probe printed no report (exit ${code}): ${stdout}${stderr}`));
        return;
      }
      resolve({
        report: JSON.parse(line) as ProbeReport,
        wallMs: performance.now() - started,
        stderr,
      });
    });
  });
}

/** The test's environment minus every way GLib could find a session bus or a display by itself. */
function isolatedEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  for (const name of [
    'DBUS_SESSION_BUS_ADDRESS',
    'DISPLAY',
    'WAYLAND_DISPLAY',
    'XDG_RUNTIME_DIR',
  ]) {
    if (!(name in extra)) delete env[name];
  }
  delete env['AIRLOCK_KEYRING_SESSION'];
  return env;
}

function expectClearRefusal(spawned: Spawned, hint: RegExp): void {
  const { report } = spawned;
  expect(report.ok, JSON.stringify(report)).toBe(false);
  expect(report.code).toBe('KEYCHAIN_UNAVAILABLE');
  const match = SENTENCE.exec(report.message ?? '');
  expect(match, report.message).not.toBeNull();
  expect(match?.[1]).toMatch(hint);
}

describe('createOsKeychain without a reachable keychain', () => {
  let work: string;
  let bareBus: string;

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'airlock-no-keychain-'));
    bareBus = join(work, 'bare-session.conf');
    writeFileSync(bareBus, BARE_BUS_CONFIG);
  });

  afterAll(() => {
    rmSync(work, { recursive: true, force: true });
  });

  describe('when DBUS_SESSION_BUS_ADDRESS points to no socket', () => {
    it('refuses in one sentence, at once', async () => {
      const spawned = await run(
        TSX,
        [PROBE, 'list'],
        isolatedEnv({ DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent' }),
      );
      expectClearRefusal(spawned, /D-Bus session bus .* cannot be reached/);
      expect(spawned.report.ms).toBeLessThan(2_000);
      expect(spawned.wallMs).toBeLessThan(20_000);
    });
  });

  describe('when DBUS_SESSION_BUS_ADDRESS is unset (and there is no display)', () => {
    it('refuses in one sentence, at once', async () => {
      const spawned = await run(TSX, [PROBE, 'list'], isolatedEnv());
      expectClearRefusal(spawned, /DBUS_SESSION_BUS_ADDRESS is not set/);
      expect(spawned.report.ms).toBeLessThan(2_000);
    });
  });

  describe('when the session bus has no Secret Service and cannot start one', () => {
    it('refuses in one sentence, at once', async () => {
      const spawned = await run(
        'dbus-run-session',
        [`--config-file=${bareBus}`, '--', TSX, PROBE, 'list'],
        isolatedEnv(),
      );
      expectClearRefusal(spawned, /no Secret Service is running/);
      expect(spawned.report.ms).toBeLessThan(2_000);
    });
  });

  describe('when the bus starts gnome-keyring on demand but it has no keyring to store into', () => {
    it('lists nothing, and refuses to store in one sentence, at once', async () => {
      const data = mkdtempSync(join(work, 'empty-keyring-'));
      // A fresh data directory: no login keyring, and no display for the "create a keyring" prompt.
      const env = isolatedEnv({ XDG_DATA_HOME: data, XDG_CACHE_HOME: data });
      const listed = await run('dbus-run-session', ['--', TSX, PROBE, 'list'], env);
      expect(listed.report).toMatchObject({ ok: true, count: 0 });
      const stored = await run('dbus-run-session', ['--', TSX, PROBE, 'set'], env);
      expectClearRefusal(stored, /no default keyring/);
      expect(stored.report.ms).toBeLessThan(5_000);
    });
  });

  describe('when the Secret Service owns its name but never answers', () => {
    it('gives up after the timeout with the same sentence', async () => {
      const data = mkdtempSync(join(work, 'frozen-keyring-'));
      // gnome-keyring takes the name, then is stopped (SIGSTOP): libsecret alone would wait 25 s+
      // per D-Bus call. The stuck call also holds the probe's exit (libuv joins its threads), so
      // once the probe has reported, the daemon is resumed and killed to let the probe exit.
      const script = `
        set -u
        printf 'throwaway' | gnome-keyring-daemon --foreground --unlock --components=secrets >/dev/null 2>&1 &
        daemon=$!
        trap 'kill -CONT $daemon 2>/dev/null; kill $daemon 2>/dev/null; wait $daemon 2>/dev/null' EXIT
        for _ in $(seq 1 100); do
          dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \\
            org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null | grep -q 'boolean true' && break
          sleep 0.1
        done
        kill -STOP $daemon
        "$0" "$1" list 2000 >"$2" &
        probe=$!
        for _ in $(seq 1 300); do
          grep -q '^{' "$2" && break
          sleep 0.05
        done
        kill -CONT $daemon; kill $daemon; wait $daemon 2>/dev/null
        wait $probe
        cat "$2"
      `;
      const spawned = await run(
        'dbus-run-session',
        [`--config-file=${bareBus}`, '--', 'bash', '-c', script, TSX, PROBE, join(data, 'report')],
        isolatedEnv({ XDG_DATA_HOME: data, XDG_CACHE_HOME: data }),
      );
      expectClearRefusal(spawned, /did not answer within 2 s/);
      expect(spawned.report.ms).toBeGreaterThanOrEqual(1_900);
      expect(spawned.report.ms).toBeLessThan(4_000);
    });
  });
});

describe('createOsKeychain with a keytar that misbehaves (in process)', () => {
  const fake = (overrides: Partial<KeytarApi>): KeytarApi => ({
    getPassword: () => Promise.resolve(null),
    setPassword: () => Promise.resolve(),
    deletePassword: () => Promise.resolve(false),
    findCredentials: () => Promise.resolve([]),
    ...overrides,
  });

  it('turns a native module that fails to load into the sentence, keeping the cause', async () => {
    const cause = new Error('Failed to load keytar native addon, checked ["../build/Release"]');
    const keychain = createOsKeychain('airlock-test', { loadKeytar: () => Promise.reject(cause) });
    const error: unknown = await keychain.list().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AirlockError);
    expect(error).toMatchObject({ code: 'KEYCHAIN_UNAVAILABLE' });
    const { message } = error as AirlockError;
    expect(SENTENCE.exec(message)?.[1]).toMatch(/native module could not be loaded/);
    expect(((error as AirlockError).cause as Error).cause).toBe(cause);
  });

  it('tries loading again after a failed load', async () => {
    let attempts = 0;
    const keychain = createOsKeychain('airlock-test', {
      loadKeytar: () =>
        ++attempts === 1 ? Promise.reject(new Error('boom')) : Promise.resolve(fake({})),
    });
    await expect(keychain.list()).rejects.toMatchObject({ code: 'KEYCHAIN_UNAVAILABLE' });
    await expect(keychain.list()).resolves.toEqual([]);
    expect(attempts).toBe(2);
  });

  it('gives up on a call that never settles', async () => {
    const keychain = createOsKeychain('airlock-test', {
      timeoutMs: 100,
      loadKeytar: () =>
        Promise.resolve(fake({ getPassword: () => new Promise<null>(() => undefined) })),
    });
    const started = performance.now();
    await expect(keychain.get('identity:x')).rejects.toMatchObject({
      code: 'KEYCHAIN_UNAVAILABLE',
      message: expect.stringMatching(/did not answer within 0\.1 s/) as unknown,
    });
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it.each([
    ['Cannot create an item in a locked collection', /locked/],
    [
      'Object does not exist at path “/org/freedesktop/secrets/collection/login”',
      /no default keyring/,
    ],
    ['Timeout was reached', /did not answer in time/],
  ])('names the reason for "%s"', async (text, hint) => {
    const keychain = createOsKeychain('airlock-test', {
      loadKeytar: () =>
        Promise.resolve(fake({ setPassword: () => Promise.reject(new Error(text)) })),
    });
    const error: unknown = await keychain.set('identity:x', 'secret').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'KEYCHAIN_UNAVAILABLE' });
    expect(SENTENCE.exec((error as Error).message)?.[1]).toMatch(hint);
  });

  it('gives no hint, but the same sentence, for a failure it does not know', async () => {
    const keychain = createOsKeychain('airlock-test', {
      loadKeytar: () =>
        Promise.resolve(fake({ findCredentials: () => Promise.reject(new Error('?')) })),
    });
    await expect(keychain.list()).rejects.toMatchObject({
      code: 'KEYCHAIN_UNAVAILABLE',
      message: expect.stringMatching(
        /^No OS keychain is reachable: Airlock needs the Secret Service/,
      ) as unknown,
    });
  });

  it('refuses an empty account or secret as INVALID_INPUT, without calling keytar', async () => {
    const keychain = createOsKeychain('airlock-test', {
      loadKeytar: () => Promise.reject(new Error('must not be loaded')),
    });
    await expect(keychain.get('')).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(keychain.set('identity:x', '')).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });
});
