import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { invokeHandler, type HandlerTable } from '../../src/main/ipc/handle';
import { createHandlers } from '../../src/main/ipc/handlers';
import { createOsKeychain } from '../../src/main/keys/keychain';
import { KeyStore } from '../../src/main/keys/key-store';
import { ConsoleServices } from '../../src/main/services/console';
import type { RendererApi } from '../../src/shared/api';
import type { IpcChannel } from '../../src/shared/ipc/channels';
import type { IpcRequestInput, IpcResponse } from '../../src/shared/ipc/contract';
import { REPO_ROOT } from '../helpers/cli';
import { startBridge, type Bridge } from './bridge';

/**
 * TEST-ONLY. One console (its own data directory, its own keychain service, the real handler
 * table) and, when asked, its window: the built renderer in Debian's Chromium through the
 * loopback bridge (DESIGN §10). Shared by the UI tests, the end-to-end test and the history
 * benchmark.
 */

export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
export const SHOTS_DIR = join(REPO_ROOT, 'test-results', 'screenshots');

export interface TestConsole {
  readonly name: string;
  readonly home: string;
  readonly services: ConsoleServices;
  readonly keys: KeyStore;
  readonly table: HandlerTable;
  /** Deletes this console's keys from the keychain and closes its store. */
  dispose(): Promise<void>;
}

/**
 * A console with data directory `<work>/<name>` and keychain service
 * `airlock-ui-test-<name>-<pid>` (its keys never mix with other tests'; the keyring is
 * throwaway). `chooseFolder` stands in for the native folder dialog only.
 */
export function makeConsole(
  work: string,
  name: string,
  chooseFolder: () => string | null,
): TestConsole {
  const home = join(work, name);
  const services = ConsoleServices.open(home);
  const keys = new KeyStore(createOsKeychain(`airlock-ui-test-${name}-${process.pid}`));
  const table = createHandlers({
    services,
    keys,
    dialogs: { chooseFolder: () => Promise.resolve(chooseFolder()) },
    appVersion: '0.0.0-ui',
    probeTimeoutMs: 2_000,
  });
  return {
    name,
    home,
    services,
    keys,
    table,
    async dispose() {
      for (const key of await keys.list()) await keys.delete(key.keyId);
      services.close();
    },
  };
}

/** Calls a channel of `who`'s handler table directly; throws on an error Result. */
export async function call<C extends IpcChannel>(
  who: TestConsole,
  channel: C,
  input: IpcRequestInput<C>,
): Promise<IpcResponse<C>> {
  const result = await invokeHandler(who.table, channel, input);
  if (!result.ok) throw new Error(`${channel}: ${result.error.code}: ${result.error.message}`);
  return result.value;
}

/** The page's globals the bridge defines (for `page.evaluate`). */
export interface BridgeWindow {
  api: RendererApi;
  __airlockBridge: { ready: Promise<boolean> };
}

export interface ConsoleWindow {
  readonly browser: Browser;
  readonly page: Page;
  readonly bridge: Bridge;
  /** Console errors and page errors seen since the page loaded (known-benign ones left out). */
  readonly consoleErrors: string[];
  /** Clicks a sidebar entry and waits for its screen's heading and first answer. */
  open(label: string): Promise<void>;
  /** Saves a full-page screenshot as test-results/screenshots/<name>.png. */
  shoot(name: string): Promise<void>;
  close(): Promise<void>;
}

/** Opens `who`'s window: bridge, Chromium, page loaded and its event stream ready. */
export async function openWindow(
  who: TestConsole,
  options: { colorScheme?: 'light' | 'dark'; acceptDownloads?: boolean } = {},
): Promise<ConsoleWindow> {
  mkdirSync(SHOTS_DIR, { recursive: true });
  const bridge = await startBridge({ handlers: who.table, platform: 'linux' });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  const context = await browser.newContext({
    viewport: { width: 1200, height: 800 },
    colorScheme: options.colorScheme ?? 'light',
    acceptDownloads: options.acceptDownloads ?? true,
  });
  await context.addInitScript(bridge.initScript);
  const page = await context.newPage();
  await page.goto(bridge.url);
  await page.evaluate(() => (globalThis as unknown as BridgeWindow).__airlockBridge.ready);
  const consoleErrors: string[] = [];
  // From here on: the blank page before the first load also runs the bridge's init script, and its
  // event stream (origin null) is refused by the bridge, as it should be.
  page.on('console', (message) => {
    if (message.type() !== 'error' && message.type() !== 'warning') return;
    const text = message.text();
    // index.html's CSP names frame-ancestors for the Electron build; Chromium notes that a <meta>
    // CSP cannot carry it. And the page has no icon: Chromium's own favicon request 404s.
    if (text.includes("'frame-ancestors' is ignored when delivered via a <meta> element")) return;
    if (message.location().url.endsWith('/favicon.ico')) return;
    consoleErrors.push(`${message.type()}: ${text} (${message.location().url})`);
  });
  page.on('pageerror', (error) => consoleErrors.push(`pageerror: ${error.message}`));

  const nav = (label: string) =>
    page.getByRole('navigation', { name: 'Main' }).getByRole('button', { name: label });
  return {
    browser,
    page,
    bridge,
    consoleErrors,
    async open(label) {
      await nav(label).click();
      await nav(label).and(page.locator('[aria-current="page"]')).waitFor();
      await page.getByRole('heading', { level: 1, name: label }).waitFor();
      // Wait for the screen's first answer.
      await page.getByText('Loading…').first().waitFor({ state: 'detached' });
    },
    async shoot(name) {
      await page.screenshot({ path: join(SHOTS_DIR, `${name}.png`), fullPage: true });
    },
    async close() {
      await browser.close();
      await bridge.close();
    },
  };
}
