import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { CheckResult, Updater } from '../../src/device';
import { CHROMIUM, CHROMIUM_ARGS } from './chromium';
import { REPO_ROOT } from './cli';

/**
 * TEST-ONLY. A page standing in for the app's WebView: the built `out/device/index.js` (what an app
 * bundles from `airlock/device`) loaded as an ES module in Debian's Chromium, from its own origin
 * (like `https://localhost` in a Capacitor app), so every request to the Airlock server is a real
 * cross-origin fetch. The plugin's JavaScript bridge is stood in for by functions the page calls
 * into Node (`page.exposeFunction`), where the native side would be; `localStorage` is the storage.
 */

export const DEVICE_BUNDLE = join(REPO_ROOT, 'out', 'device', 'index.js');

const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>device guard stand-in</title>
<script type="module">
  import { createGuard } from '/guard.js';
  const storage = {
    get: async (key) => localStorage.getItem(key),
    set: async (key, value) => localStorage.setItem(key, value),
  };
  const updater = {
    getDeviceId: () => window.bridgeGetDeviceId(),
    current: () => window.bridgeCurrent(),
    download: (options) => window.bridgeDownload(options),
    next: (options) => window.bridgeNext(options),
  };
  window.makeGuard = (options) => {
    window.guard = createGuard({ ...options, storage, updater });
    return true;
  };
  window.runCheck = async () => {
    const started = performance.now();
    const result = await window.guard.check();
    return { result, ms: performance.now() - started };
  };
  window.ready = true;
</script>`;

export interface DevicePage {
  readonly browser: Browser;
  readonly page: Page;
  readonly origin: string;
  /** Creates the guard in the page (server, app, channel, trust, limits). */
  makeGuard(options: Record<string, unknown>): Promise<void>;
  /** Runs `guard.check()` in the page; the time is the page's own clock. */
  check(): Promise<{ result: CheckResult; ms: number }>;
  close(): Promise<void>;
}

/** Serves the stand-in page and the device bundle, opens it in Chromium, wires the bridge. */
export async function openDevicePage(updater: Updater): Promise<DevicePage> {
  if (!existsSync(DEVICE_BUNDLE)) {
    throw new Error(`${DEVICE_BUNDLE} is missing: run "npm run build" first`);
  }
  const guardJs = readFileSync(DEVICE_BUNDLE);
  const server: Server = createServer((req, res) => {
    if (req.url === '/guard.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      res.end(guardJs);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(PAGE);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.2', resolve));
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.2:${port}`;
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  const page = await browser.newPage();
  await page.exposeFunction('bridgeGetDeviceId', () => updater.getDeviceId());
  await page.exposeFunction('bridgeCurrent', () => updater.current());
  await page.exposeFunction('bridgeDownload', (options: Parameters<Updater['download']>[0]) =>
    updater.download(options),
  );
  await page.exposeFunction('bridgeNext', (options: { id: string }) => updater.next(options));
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(`${origin}/`);
  await page.waitForFunction(
    () => (globalThis as unknown as { ready?: boolean }).ready === true,
    null,
    {
      timeout: 10_000,
    },
  );
  if (errors.length > 0) throw new Error(`the page failed: ${errors.join('; ')}`);
  return {
    browser,
    page,
    origin,
    async makeGuard(options) {
      await page.evaluate(
        (opts) => (globalThis as unknown as { makeGuard(o: unknown): boolean }).makeGuard(opts),
        options,
      );
    },
    check() {
      return page.evaluate(() =>
        (
          globalThis as unknown as { runCheck(): Promise<{ result: CheckResult; ms: number }> }
        ).runCheck(),
      );
    },
    async close() {
      await browser.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
