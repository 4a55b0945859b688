import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandlers } from '../../../src/main/ipc/handlers';
import { createOsKeychain } from '../../../src/main/keys/keychain';
import { KeyStore } from '../../../src/main/keys/key-store';
import { ConsoleServices } from '../../../src/main/services/console';
import type { RendererApi } from '../../../src/shared/api';
import type { ProgressEvent } from '../../../src/shared/ipc/contract';
import type { Result } from '../../../src/shared/result';
import { startBridge, type Bridge } from '../../e2e/bridge';
import { sampleWebBuild, writeTree } from '../../helpers/bundle-fixtures';
import { REPO_ROOT } from '../../helpers/cli';

/**
 * The e2e test bridge (issue 5, ARCHITECTURE.md §10): the built renderer in Debian's Chromium talks to the
 * real handler table (real SQLite, real throwaway keychain) through loopback HTTP, with a random
 * token, and nothing else can use it.
 */

const CHROMIUM = '/usr/bin/chromium';

let work: string;
let services: ConsoleServices;
let keys: KeyStore;
let bridge: Bridge;
let browser: Browser;
let page: Page;
let webDir: string;

/** Raw HTTP, to send what a browser would not (another Host, no token). */
function raw(
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; body: string }> {
  const target = new URL(path, bridge.url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: target.hostname,
        port: target.port,
        path: `${target.pathname}${target.search}`,
        method: init.method ?? 'GET',
        headers: init.headers,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        // An event stream never ends by itself.
        if (res.headers['content-type'] === 'text/event-stream') {
          resolve({ status: res.statusCode ?? 0, body: '' });
          res.destroy();
        }
      },
    );
    req.on('error', reject);
    req.end(init.body);
  });
}

beforeAll(async () => {
  if (!existsSync(join(REPO_ROOT, 'out', 'renderer', 'index.html'))) {
    throw new Error('out/renderer is missing: run "npm run build"');
  }
  work = mkdtempSync(join(tmpdir(), 'airlock-bridge-'));
  webDir = join(work, 'www');
  writeTree(webDir, sampleWebBuild());
  services = ConsoleServices.open(join(work, 'home'));
  // Its own keychain service: these keys never mix with other tests' (the keyring is throwaway).
  keys = new KeyStore(createOsKeychain(`airlock-bridge-test-${process.pid}`));
  const handlers = createHandlers({
    services,
    keys,
    dialogs: { chooseFolder: () => Promise.resolve(webDir) },
    appVersion: '0.0.0-bridge',
  });
  bridge = await startBridge({ handlers, platform: 'linux' });
  browser = await chromium.launch({ executablePath: CHROMIUM });
  const context = await browser.newContext();
  await context.addInitScript(bridge.initScript);
  page = await context.newPage();
  await page.goto(bridge.url);
  await page.evaluate(() => (globalThis as unknown as BridgeWindow).__airlockBridge.ready);
});

afterAll(async () => {
  await browser?.close();
  await bridge?.close();
  for (const key of (await keys?.list()) ?? []) await keys.delete(key.keyId);
  services?.close();
  rmSync(work, { recursive: true, force: true });
});

interface BridgeWindow {
  api: RendererApi;
  __airlockBridge: { ready: Promise<boolean> };
  progress: ProgressEvent[];
}

describe('the bridge over HTTP', () => {
  const ipc = (
    channel: string,
    headers: Record<string, string>,
    body = '{}',
  ): ReturnType<typeof raw> => raw(`/ipc/${channel}`, { method: 'POST', headers, body });

  it('refuses calls without the token, or with another one', async () => {
    const json = { 'content-type': 'application/json' };
    expect((await ipc('outbox:list', json)).status).toBe(401);
    expect(
      (await ipc('outbox:list', { ...json, authorization: `Bearer ${'x'.repeat(43)}` })).status,
    ).toBe(401);
    expect((await raw('/events')).status).toBe(401);
    expect((await raw(`/events?token=${bridge.token}`)).status).toBe(200);
  });

  it('refuses another Host or Origin, and bodies that are not JSON', async () => {
    const auth = { authorization: `Bearer ${bridge.token}`, 'content-type': 'application/json' };
    expect((await ipc('outbox:list', { ...auth, host: 'evil.example' })).status).toBe(403);
    expect((await ipc('outbox:list', { ...auth, origin: 'https://evil.example' })).status).toBe(
      403,
    );
    expect((await ipc('outbox:list', { ...auth, 'content-type': 'text/plain' })).status).toBe(415);
    const notJson = await ipc('outbox:list', auth, '{');
    expect(notJson.status).toBe(400);
    expect(JSON.parse(notJson.body)).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT' } });
  });

  it('answers declared channels only, through the same validation as the app', async () => {
    const auth = { authorization: `Bearer ${bridge.token}`, 'content-type': 'application/json' };
    const unknown = await ipc('keys:delete', auth);
    expect(unknown.status).toBe(404);
    const bad = await ipc('keys:create', auth, JSON.stringify({ type: 'rsa' }));
    expect(JSON.parse(bad.body)).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT' } });
    const good = await ipc('outbox:list', auth);
    expect(JSON.parse(good.body)).toEqual({ ok: true, value: { items: [] } });
  });

  it('serves the built renderer and nothing outside it', async () => {
    const index = await raw('/');
    expect(index.status).toBe(200);
    expect(index.body).toContain('Content-Security-Policy');
    expect((await raw('/../../package.json')).status).toBe(404);
    expect((await raw('/%2e%2e/%2e%2e/package.json')).status).toBe(404);
  });
});

describe('window.api in Chromium', () => {
  it('has the preload shape and answers Results', async () => {
    const status = await page.evaluate(() =>
      (globalThis as unknown as BridgeWindow).api.app.status(),
    );
    expect(status).toMatchObject({
      ok: true,
      value: {
        dataDir: join(work, 'home'),
        platform: 'linux',
        appVersion: '0.0.0-bridge',
        keychain: { available: true },
      },
    });
    const refused = await page.evaluate(() =>
      (globalThis as unknown as BridgeWindow).api.keys.create({
        type: 'rsa' as 'identity',
      }),
    );
    expect(refused).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT' } });
  });

  it('builds and encrypts a bundle from the chosen folder, reporting progress', async () => {
    const result = await page.evaluate(async () => {
      const { api } = globalThis as unknown as BridgeWindow;
      const seen: ProgressEvent[] = [];
      api.onProgress((event) => seen.push(event));
      const key = await api.keys.create({ type: 'bundle', label: 'bridge' });
      if (!key.ok) return { key };
      const notChosen = await api.bundles.build({
        webDir: '/etc',
        bundleKeyId: key.value.keyId,
      });
      const folder = await api.dialogs.chooseFolder({ purpose: 'web-build' });
      if (!folder.ok || folder.value.path === null) return { folder };
      const built = await api.bundles.build({
        webDir: folder.value.path,
        bundleKeyId: key.value.keyId,
        operationId: 'op-1',
      });
      // Events travel on their own stream: give the last one a moment to arrive.
      await new Promise((resolve) => setTimeout(resolve, 200));
      return { key, notChosen, built, seen };
    });
    expect(result.notChosen).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    const built = result.built as Result<{ bundle: { files: number }; path: string }>;
    expect(built).toMatchObject({ ok: true, value: { bundle: { files: 6 } } });
    if (built.ok) expect(existsSync(built.value.path)).toBe(true);
    const phases = new Set((result.seen ?? []).map((event) => event.phase));
    expect(phases).toEqual(new Set(['scan', 'zip', 'encrypt']));
    for (const event of result.seen ?? []) {
      expect(event).toMatchObject({ channel: 'bundles:build', operationId: 'op-1' });
    }
    const last = result.seen?.at(-1);
    expect(last?.done).toBe(last?.total);
  });
});
