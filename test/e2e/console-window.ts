import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import type { IdentitySigner } from '../../src/core/statement';
import { invokeHandler, type HandlerTable } from '../../src/main/ipc/handle';
import { createHandlers } from '../../src/main/ipc/handlers';
import { createOsKeychain } from '../../src/main/keys/keychain';
import { KeyStore } from '../../src/main/keys/key-store';
import { ConsoleServices } from '../../src/main/services/console';
import type { RendererApi } from '../../src/shared/api';
import type { IpcChannel } from '../../src/shared/ipc/channels';
import type { IpcRequestInput, IpcResponse, ProposeResult } from '../../src/shared/ipc/contract';
import type { AppErrorShape } from '../../src/shared/errors';
import type { Policy } from '../../src/shared/schemas';
import { sampleWebBuild, writeTree } from '../helpers/bundle-fixtures';
import { CHROMIUM, CHROMIUM_ARGS } from '../helpers/chromium';
import { REPO_ROOT } from '../helpers/cli';
import { addMembers, callApi, startTestServer, type TestServer } from '../helpers/server';
import { startBridge, type Bridge } from './bridge';

/**
 * TEST-ONLY. One console (its own data directory, its own keychain service, the real handler
 * table) and, when asked, its window: the built renderer in Debian's Chromium through the
 * loopback bridge (ARCHITECTURE.md §10); and a team of two consoles on a real test server (`setUpTeam`).
 * Shared by the UI tests, the handler tests, the end-to-end test and the history benchmark.
 */

export { CHROMIUM, CHROMIUM_ARGS };
/** Every screen of the console: its sidebar label and its id (App.tsx), in sidebar order. */
export const SCREENS = [
  { label: 'Apps and channels', id: 'overview' },
  { label: 'New release', id: 'release' },
  { label: 'Approvals', id: 'approvals' },
  { label: 'Release history', id: 'history' },
  { label: 'Health', id: 'health' },
  { label: 'Outbox and sync', id: 'outbox' },
  { label: 'Keys', id: 'keys' },
  { label: 'Members and policies', id: 'members' },
  { label: 'Servers', id: 'servers' },
  { label: 'Audit log', id: 'audit' },
] as const;

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

/** Calls a channel of `who`'s handler table directly; the error it answers (throws on success). */
export async function refusal<C extends IpcChannel>(
  who: { readonly table: HandlerTable },
  channel: C,
  input: IpcRequestInput<C>,
): Promise<AppErrorShape> {
  const result = await invokeHandler(who.table, channel, input);
  if (result.ok) throw new Error(`${channel} unexpectedly succeeded`);
  return result.error;
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
  /**
   * Every Content-Security-Policy violation the page reported since it loaded
   * (`securitypolicyviolation` events, recorded from before the first script ran), as
   * "<directive> <blocked URI or 'inline'> at <source>" lines.
   */
  cspViolations(): Promise<string[]>;
  /** Saves a full-page screenshot as test-results/screenshots/<name>.png. */
  shoot(name: string): Promise<void>;
  /**
   * Runs `click`, catches the download it starts (a FileOffer saved through lib/files.ts) and saves
   * it into `folder` under its suggested name.
   */
  download(click: () => Promise<void>, folder: string): Promise<{ path: string; name: string }>;
  close(): Promise<void>;
}

interface CspWindow {
  __airlockCsp?: string[];
}

/**
 * Runs before any script of the page: records each CSP violation the document reports. A refused
 * inline <style> or style="" attribute is one (`style-src-elem` / `style-src-attr`, blocked URI
 * "inline"), and so is a refused script or connection.
 */
const CSP_RECORDER = `(() => {
  const seen = (window.__airlockCsp = []);
  document.addEventListener('securitypolicyviolation', (event) => {
    seen.push(
      event.effectiveDirective + ' ' + (event.blockedURI || 'inline') + ' at ' +
        (event.sourceFile || '?') + ':' + event.lineNumber + (event.sample ? ' ' + event.sample : ''),
    );
  });
})();`;

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
  await context.addInitScript(CSP_RECORDER);
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
    async download(click, folder) {
      const [started] = await Promise.all([page.waitForEvent('download'), click()]);
      const name = started.suggestedFilename();
      const path = join(folder, name);
      await started.saveAs(path);
      return { path, name };
    },
    cspViolations: () =>
      page.evaluate(() => (globalThis as unknown as CspWindow).__airlockCsp?.slice() ?? []),
    async shoot(name) {
      await page.screenshot({ path: join(SHOTS_DIR, `${name}.png`), fullPage: true });
    },
    async close() {
      await browser.close();
      await bridge.close();
    },
  };
}

/** The row of `app`'s (first) channel in the "Apps and channels" table. */
/**
 * The text of `locator` once it shows every one of `wanted`: UI assertions wait for what renders
 * asynchronously (a badge, a verdict) instead of reading the text once (issue 12: no flaky test).
 * Gives up after 10 s, naming what never showed.
 */
export async function shownText(
  locator: Locator,
  ...wanted: readonly (string | RegExp)[]
): Promise<string> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const text = (await locator.textContent()) ?? '';
    const missing = wanted.filter((want) =>
      typeof want === 'string' ? !text.includes(want) : !want.test(text),
    );
    if (missing.length === 0) return text;
    if (Date.now() > deadline) {
      throw new Error(
        `never showed ${missing.map(String).join(', ')}; it shows: ${text.slice(0, 3000)}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Answers the confirmation dialog a consequential action opens (components/ConfirmDialog.tsx):
 * types `typed` when the dialog asks for it, then presses `action`. Checks that the action is
 * disabled until the text is typed.
 */
export async function confirmInDialog(
  page: Page,
  action: string,
  typed?: string,
): Promise<Locator> {
  const dialog = page.getByRole('alertdialog');
  await dialog.waitFor();
  const button = dialog.getByRole('button', { name: action, exact: true });
  if (typed !== undefined) {
    if (!(await button.isDisabled())) throw new Error(`${action} was enabled before typing`);
    await dialog.getByLabel(/^Type .* to confirm$/).fill(typed);
  }
  await button.click();
  return dialog;
}

/**
 * Runs the overview action `label` on `app`'s row: its primary button when that is the one, else
 * the item of its "More actions" menu (issue 13: one primary action, a menu for the rest).
 */
export async function channelAction(page: Page, app: string, label: string): Promise<void> {
  const row = overviewRow(page, app);
  const primary = row.getByRole('button', { name: label, exact: true });
  if ((await primary.count()) > 0) {
    await primary.click();
    return;
  }
  await row.getByRole('button', { name: /^More actions for / }).click();
  await page.getByRole('menuitem', { name: label, exact: true }).click();
}

export function overviewRow(page: Page, app: string): Locator {
  return page
    .getByRole('table', { name: 'Channels' })
    .getByRole('row', { name: new RegExp(app.replaceAll('.', '\\.')) })
    .first();
}

// ---------------------------------------------------------------------------------------------
// A team: the proposer's and a signing officer's consoles on one real test server

/** Releases of `app`/`channel` need an approval from a signing officer (not the proposer's). */
export function signingOfficerPolicy(app: string, channel: string): Policy {
  return {
    app,
    channel,
    kind: 'release',
    threshold: 1,
    roles: ['release_manager', 'signing_officer'],
    require: { signing_officer: 1 },
    proposerCounts: false,
  };
}

export interface TeamServerOptions {
  /** The app created on the server, with these channels (default: `production` only). */
  readonly app: string;
  readonly channels?: readonly string[];
  /** Labels of the identity keys the fixture creates (default `user` and `officer`). */
  readonly labels?: { readonly user?: string; readonly officer?: string };
  /** Policies added to the trust root with the officer (default: none; the server's own apply). */
  readonly policies?: readonly Policy[];
  /**
   * Which consoles connect to the server (default: both). False for one that connects through
   * its window, or never (an air-gapped officer).
   */
  readonly connect?: { readonly user?: boolean; readonly officer?: boolean };
}

/** A test server whose admin is the user and whose signing officer ("Olga") is the officer. */
export interface TeamServer {
  readonly server: TestServer;
  readonly url: string;
  readonly app: string;
  /** The app's first channel. */
  readonly channel: string;
  /** The user's identity key: the server's first admin. */
  readonly userKey: string;
  readonly admin: IdentitySigner;
  /** The officer's identity key: a member with the role signing_officer, named Olga. */
  readonly officerKey: string;
  readonly officerSigner: IdentitySigner;
  /** The user's bundle key: the app's bundle public key. */
  readonly bundleKey: { readonly keyId: string; readonly publicKey: string };
  /**
   * The user builds the web build folder (the folder dialog's answer) with the bundle key and
   * proposes it as `version` on the first channel.
   */
  propose(version: string, options?: { exportRequest?: boolean }): Promise<ProposeResult>;
  /** The officer approves `statementId` online; the user pushes it. */
  approveAndPush(statementId: string): Promise<IpcResponse<'releases:push'>>;
  /** Stops the server and deletes its data. */
  dispose(): Promise<void>;
}

/** The first identity key of `who`, created with `label` when it has none. */
async function identityKey(who: TestConsole, label: string): Promise<string> {
  const existing = (await who.keys.list()).find((key) => key.type === 'identity');
  if (existing !== undefined) return existing.keyId;
  return (await call(who, 'keys:create', { type: 'identity', label })).keyId;
}

/**
 * Starts a real test server for `user` and `officer`: the user's identity key is its admin, the
 * officer's a signing officer named Olga (each key the console's first, created when it has none),
 * with `policies`; a bundle key in the user's console; the app created with its channels; the
 * consoles connected as `connect` says.
 */
export async function startTeamServer(
  user: TestConsole,
  officer: TestConsole,
  options: TeamServerOptions,
): Promise<TeamServer> {
  const channels = options.channels ?? ['production'];
  const channel = channels[0] ?? 'production';
  const userKey = await identityKey(user, options.labels?.user ?? 'user');
  const officerKey = await identityKey(officer, options.labels?.officer ?? 'officer');
  const admin = await user.keys.identitySigner(userKey);
  const officerSigner = await officer.keys.identitySigner(officerKey);
  const server = await startTestServer({ admins: [admin] });
  try {
    const url = server.url;
    await addMembers(
      url,
      [admin],
      [{ signer: officerSigner, roles: ['signing_officer'], name: 'Olga' }],
      undefined,
      options.policies,
    );
    const bundle = await call(user, 'keys:create', { type: 'bundle', label: 'app' });
    const created = await callApi(url, '/api/v1/apps', {
      signer: admin,
      body: {
        app: options.app,
        channels: channels.map((name) => ({ name })),
        bundlePublicKey: bundle.publicKey,
      },
    });
    if (created.status !== 201) {
      throw new Error(`creating ${options.app}: ${created.status} ${JSON.stringify(created.json)}`);
    }
    if (options.connect?.user ?? true) await call(user, 'servers:connect', { url });
    if (options.connect?.officer ?? true) await call(officer, 'servers:connect', { url });
    return {
      server,
      url,
      app: options.app,
      channel,
      userKey,
      admin,
      officerKey,
      officerSigner,
      bundleKey: { keyId: bundle.keyId, publicKey: bundle.publicKey },
      async propose(version, proposal = {}) {
        const folder = await call(user, 'dialog:choose-folder', { purpose: 'web-build' });
        if (folder.path === null) throw new Error('the folder dialog chose nothing');
        const built = await call(user, 'bundles:build', {
          webDir: folder.path,
          bundleKeyId: bundle.keyId,
        });
        return call(user, 'releases:propose', {
          server: url,
          app: options.app,
          channel,
          version,
          bundle: built.bundle.encryptedSha256,
          exportRequest: proposal.exportRequest ?? false,
        });
      },
      async approveAndPush(statementId) {
        await call(officer, 'approvals:approve', { mode: 'online', server: url, statementId });
        return call(user, 'releases:push', { server: url, statementId });
      },
      dispose: () => server.dispose(),
    };
  } catch (error) {
    await server.dispose();
    throw error;
  }
}

export interface TeamOptions extends TeamServerOptions {
  /** Console names (data directories and keychain services under `work`). */
  readonly names: { readonly user: string; readonly officer: string };
  /**
   * The folder both consoles' folder dialog chooses, written with the sample web build (default
   * `<work>/www`).
   */
  readonly webDir?: string;
}

export interface Team extends TeamServer {
  readonly user: TestConsole;
  readonly officer: TestConsole;
  readonly webDir: string;
  /** Stops the server, then disposes both consoles (their keys leave the keychain). */
  dispose(): Promise<void>;
}

/**
 * The usual two-console setup of the UI and handler tests: the sample web build in `webDir`, a
 * proposer console (`user`, the server's admin) and an officer console (a signing officer), each
 * with an identity key, a real test server, a bundle key, the app created, and the consoles
 * connected (see `startTeamServer`).
 * @example
 * team = await setUpTeam(work, { app: APP, names: { user: 'x-user', officer: 'x-officer' } });
 * const proposed = await team.propose('1.0.0');
 * await team.approveAndPush(proposed.statementId);
 * await team.dispose();
 */
export async function setUpTeam(work: string, options: TeamOptions): Promise<Team> {
  const webDir = options.webDir ?? join(work, 'www');
  writeTree(webDir, sampleWebBuild());
  const user = makeConsole(work, options.names.user, () => webDir);
  const officer = makeConsole(work, options.names.officer, () => webDir);
  const disposeConsoles = async (): Promise<void> => {
    await user.dispose();
    await officer.dispose();
  };
  let started: TeamServer;
  try {
    started = await startTeamServer(user, officer, options);
  } catch (error) {
    await disposeConsoles();
    throw error;
  }
  return {
    ...started,
    user,
    officer,
    webDir,
    async dispose() {
      await started.dispose();
      await disposeConsoles();
    },
  };
}
