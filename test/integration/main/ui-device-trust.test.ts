import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatFingerprint } from '../../../src/core/crypto';
import { verifyTrustBundle } from '../../../src/core/log';
import { createGuard } from '../../../src/device';
import { invokeHandler } from '../../../src/main/ipc/handle';
import { MemoryStorage, RecordingUpdater } from '../../helpers/device-log';
import { callApi, startTestServer, type TestServer } from '../../helpers/server';
import {
  call,
  makeConsole,
  openWindow,
  setUpTeam,
  type ConsoleWindow,
  type Team,
  type TestConsole,
} from '../../e2e/console-window';

/**
 * The console offers the device trust bundle (ARCHITECTURE.md §11, issue 14 item 5) through the
 * workflow `airlock device trust` uses: the file is checked with the phone's verifier, a guard
 * runs on what the window saved, and the snippets name this server. In Debian's Chromium against
 * the real handlers and a real server. Screenshot: device-trust.
 */

const APP = 'com.example.devicetrust';

let work: string;
let team: Team;
let window: ConsoleWindow;
let page: Page;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'airlock-ui-device-trust-'));
  team = await setUpTeam(work, {
    app: APP,
    channels: ['production', 'beta'],
    names: { user: 'trust-user', officer: 'trust-officer' },
  });
  window = await openWindow(team.user, { acceptDownloads: true });
  page = window.page;
});

afterAll(async () => {
  await window?.close();
  await team?.dispose();
  rmSync(work, { recursive: true, force: true });
});

describe('device trust in the console window', () => {
  it('builds trust.json on the Servers screen, shows the fingerprint, and a guard runs on the saved file', async () => {
    await window.open('Servers');
    const panel = page.getByRole('region', { name: 'Device trust' });
    await panel.getByRole('combobox', { name: /^Channel/ }).selectOption({
      label: `${APP}/beta (${team.url})`,
    });
    await panel.getByRole('button', { name: 'Build trust file' }).click();
    const ready = panel.getByRole('status', { name: 'Trust file ready' });
    await ready.waitFor();
    // The fingerprint of root version 1, the one `server init` printed, comes first.
    await expect.poll(() => ready.textContent()).toContain(formatFingerprint(team.server.rootId));
    const config = await ready.getByLabel('capacitor.config.ts (plugins)').inputValue();
    expect(config).toContain(`updateUrl: '${team.url}/updates'`);
    expect(config).toContain('autoUpdate: false');
    expect(config).toContain("defaultChannel: 'beta'");
    const code = await ready.getByLabel('App code').inputValue();
    expect(code).toContain(`app: '${APP}'`);
    expect(code).toContain("channel: 'beta'");
    await window.shoot('device-trust');

    const downloads = join(work, 'downloads');
    mkdirSync(downloads);
    const { path, name } = await window.download(
      () => ready.getByRole('button', { name: 'Save trust.json' }).click(),
      downloads,
    );
    expect(name).toBe('trust.json');
    const bundle: unknown = JSON.parse(readFileSync(path, 'utf8'));
    expect(verifyTrustBundle(bundle, APP).ok).toBe(true);
    const guard = createGuard({
      server: team.url,
      app: APP,
      channel: 'beta',
      trust: bundle,
      storage: new MemoryStorage(),
      updater: new RecordingUpdater(),
    });
    expect(await guard.check()).toMatchObject({ action: 'up_to_date', reason: 'no_release' });
  });

  it('refuses an app the server does not have, naming it', async () => {
    const result = await invokeHandler(team.user.table, 'device:trust', {
      server: team.url,
      app: 'com.example.none',
    });
    expect(result).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
    expect(!result.ok && result.error.message).toContain('com.example.none');
  });
});

describe('device trust on a root without its own signatures (version 1 of server init)', () => {
  let server: TestServer;
  let admin: TestConsole;
  let other: TestConsole;

  beforeAll(async () => {
    admin = makeConsole(work, 'v1-admin', () => null);
    other = makeConsole(work, 'v1-other', () => null);
    const adminKey = await call(admin, 'keys:create', { type: 'identity', label: 'admin' });
    await call(other, 'keys:create', { type: 'identity', label: 'not an admin' });
    server = await startTestServer({
      admins: [await admin.keys.identitySigner(adminKey.keyId)],
    });
    const bundleKey = await call(admin, 'keys:create', { type: 'bundle', label: 'app' });
    const created = await callApi(server.url, '/api/v1/apps', {
      signer: await admin.keys.identitySigner(adminKey.keyId),
      body: { app: APP, channels: [{ name: 'production' }], bundlePublicKey: bundleKey.publicKey },
    });
    expect(created.status).toBe(201);
    await call(admin, 'servers:connect', { url: server.url });
    await call(other, 'servers:connect', { url: server.url });
  });

  afterAll(async () => {
    await server?.dispose();
    await admin?.dispose();
    await other?.dispose();
  });

  it('asks for an admin signature, refuses a key that is no admin, and signs as the admin', async () => {
    const unsigned = await invokeHandler(admin.table, 'device:trust', {
      server: server.url,
      app: APP,
    });
    expect(unsigned).toMatchObject({ ok: false, error: { code: 'POLICY_NOT_SATISFIED' } });

    const stranger = await invokeHandler(other.table, 'device:trust', {
      server: server.url,
      app: APP,
      sign: true,
    });
    expect(stranger).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT' } });

    const signed = await call(admin, 'device:trust', { server: server.url, app: APP, sign: true });
    expect(signed.signed).toBe(true);
    expect(signed.rootVersion).toBe(1);
    const bundle: unknown = JSON.parse(signed.file.content);
    expect(verifyTrustBundle(bundle, APP).ok).toBe(true);
  });

  it('builds from the pinned chain alone while the server is offline, and says what it did not check', async () => {
    await server.stop();
    try {
      const offline = await call(admin, 'device:trust', {
        server: server.url,
        app: APP,
        sign: true,
      });
      expect(offline.warning).toContain('pinned chain');
      expect(offline.warning).toContain(APP);
      expect(verifyTrustBundle(JSON.parse(offline.file.content), APP).ok).toBe(true);
    } finally {
      await server.restart();
    }
  });
});
