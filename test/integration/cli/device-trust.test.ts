import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import keytar from '@github/keytar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyTrustBundle } from '../../../src/core/log';
import { createGuard } from '../../../src/device';
import { MemoryStorage, RecordingUpdater } from '../../helpers/device-log';
import { runCli, runCliOk } from '../../helpers/cli';
import { startTestServer, type TestServer } from '../../helpers/server';

// `airlock device trust` (ARCHITECTURE.md §11) through the built CLI, with the admin's identity key in
// the real (throwaway, test/with-keyring.sh) keychain, against a real server on loopback.
const SERVICE = 'airlock';
const APP = 'com.example.trusted';

describe('airlock device trust', () => {
  let work: string;
  let server: TestServer;
  let env: NodeJS.ProcessEnv = {};
  let keyId = '';

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'airlock-device-trust-'));
    const home = join(work, 'home');
    mkdirSync(home);
    keyId = (
      await runCliOk(['keys', 'create', '--type', 'identity', '--label', 'device trust test'], {
        env: { AIRLOCK_HOME: home },
      })
    ).stdout.trim();
    env = { AIRLOCK_HOME: home, AIRLOCK_IDENTITY: keyId };
    const publicKey = (
      await runCliOk(['keys', 'export-public', keyId, '--format', 'hex'], { env })
    ).stdout.trim();
    const bundleKey = (
      await runCliOk(['keys', 'create', '--type', 'bundle', '--label', 'device trust test'], {
        env,
      })
    ).stdout.trim();
    const pem = await runCliOk(['keys', 'export-public', bundleKey, '--format', 'pem'], { env });
    writeFileSync(join(work, 'bundle.pub.pem'), pem.stdout);
    await keytar.deletePassword(SERVICE, `bundle:${bundleKey}`);
    server = await startTestServer({ admins: [publicKey] });
    await runCliOk(
      [
        'apps',
        'create',
        '--server',
        server.url,
        '--app',
        APP,
        '--channel',
        'production',
        '--bundle-public-key',
        join(work, 'bundle.pub.pem'),
      ],
      { env },
    );
  });

  afterAll(async () => {
    await server?.dispose();
    await keytar.deletePassword(SERVICE, `identity:${keyId}`);
    rmSync(work, { recursive: true, force: true });
  });

  it('refuses to write a bundle whose root carries no signatures of its own admins, and says what to do', async () => {
    const out = join(work, 'unsigned.json');
    const result = await runCli(
      ['device', 'trust', '--server', server.url, '--app', APP, '--out', out],
      { env },
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('--sign');
    expect(() => readFileSync(out)).toThrow();
  });

  it('refuses an app the server does not have', async () => {
    const result = await runCli(
      [
        'device',
        'trust',
        '--server',
        server.url,
        '--app',
        'com.example.none',
        '--out',
        join(work, 'x.json'),
        '--sign',
      ],
      { env },
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('com.example.none');
  });

  it('with --sign, writes a bundle the phone verifies, prints the fingerprint, and the guard runs on it', async () => {
    const out = join(work, 'trust.json');
    const { stdout } = await runCliOk(
      ['device', 'trust', '--server', server.url, '--app', APP, '--out', out, '--sign'],
      { env },
    );
    expect(stdout).toContain(server.rootId);
    // The snippets for capacitor.config and the app, the same the console offers.
    expect(stdout).toContain(`updateUrl: '${server.url}/updates'`);
    expect(stdout).toContain('autoUpdate: false');
    expect(stdout).toContain(`app: '${APP}'`);
    const bundle: unknown = JSON.parse(readFileSync(out, 'utf8'));
    const verified = verifyTrustBundle(bundle, APP);
    expect(verified.ok).toBe(true);
    const guard = createGuard({
      server: server.url,
      app: APP,
      channel: 'production',
      trust: bundle,
      storage: new MemoryStorage(),
      updater: new RecordingUpdater(),
    });
    expect(await guard.check()).toMatchObject({ action: 'up_to_date', reason: 'no_release' });
  });
});
