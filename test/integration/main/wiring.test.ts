import { spawn } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IPC_CHANNELS } from '../../../src/shared/ipc/channels';
import { NODE_SQLITE_ADDON, REPO_ROOT } from '../../helpers/cli';

/**
 * Issue 5: the main-process wiring, checked on the BUILT bundle (out/main/index.js, `npm run
 * build`). Electron cannot run here, so a child Node process loads the bundle with the `electron`
 * module replaced by a recording double (a `module.register` resolve hook), plays the app's
 * lifecycle, and prints what the bundle did: window options, navigation / window-open / permission
 * handlers, the single-instance lock, the menu, and the IPC handler table, which it then calls the
 * way a window would (trusted page, foreign page, sub-frame, bad payload).
 */

const MAIN_BUNDLE = join(REPO_ROOT, 'out', 'main', 'index.js');

// The double: every Electron API the bundle touches, recording what it is asked. Plain JS, since
// it runs in the child process, not under vitest.
const DRIVER = `
import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const lock = process.env.FAKE_LOCK !== 'refused';
const record = {
  lockRequested: false, quitCalls: 0, paths: {}, windows: [], handlers: new Map(),
  menu: null, permissionRequest: null, permissionCheck: null, errorBox: null, focusCalls: 0,
};

class FakeWebContents extends EventEmitter {
  openHandler = null;
  sent = [];
  setWindowOpenHandler(handler) { this.openHandler = handler; }
  send(channel, payload) { this.sent.push([channel, payload]); }
  isDestroyed() { return false; }
}

class BrowserWindow extends EventEmitter {
  static all = [];
  constructor(options) {
    super();
    this.options = options;
    this.webContents = new FakeWebContents();
    this.loaded = null;
    BrowserWindow.all.push(this);
  }
  loadURL(url) { this.loaded = { url }; return Promise.resolve(); }
  loadFile(file) { this.loaded = { file }; return Promise.resolve(); }
  show() {}
  isMinimized() { return true; }
  restore() {}
  focus() { record.focusCalls += 1; }
  static getAllWindows() { return [...BrowserWindow.all]; }
  static getFocusedWindow() { return null; }
}

let ready;
const readyPromise = new Promise((resolve) => { ready = resolve; });
const app = Object.assign(new EventEmitter(), {
  isPackaged: process.env.FAKE_PACKAGED !== 'no',
  getAppPath() { return process.env.FAKE_APP_PATH; },
  requestSingleInstanceLock() { record.lockRequested = true; return lock; },
  quit() { record.quitCalls += 1; },
  whenReady() { return readyPromise; },
  getPath(name) {
    if (name === 'appData') return process.env.FAKE_APP_DATA;
    if (name === 'userData') return record.paths.userData ?? process.env.FAKE_APP_DATA + '/airlock';
    throw new Error('unexpected getPath ' + name);
  },
  setPath(name, value) { record.paths[name] = value; },
  getVersion() { return '9.9.9-test'; },
});

globalThis.__airlockFakeElectron = {
  app,
  BrowserWindow,
  session: {
    defaultSession: {
      setPermissionRequestHandler(handler) { record.permissionRequest = handler; },
      setPermissionCheckHandler(handler) { record.permissionCheck = handler; },
    },
  },
  ipcMain: {
    handle(channel, listener) {
      if (record.handlers.has(channel)) throw new Error('second handler for ' + channel);
      record.handlers.set(channel, listener);
    },
    removeHandler(channel) { record.handlers.delete(channel); },
  },
  Menu: {
    buildFromTemplate(template) { return { template }; },
    setApplicationMenu(menu) { record.menu = menu; },
  },
  dialog: {
    showOpenDialog: async () => ({ canceled: true, filePaths: [] }),
    showErrorBox(title, message) { record.errorBox = { title, message }; },
  },
};

const tick = () => new Promise((resolve) => setImmediate(resolve));
await import(pathToFileURL(process.env.MAIN_BUNDLE).href);
ready();
for (let i = 0; i < 5; i += 1) await tick();

function prevented(contents, eventName, ...args) {
  let stopped = false;
  contents.emit(eventName, { preventDefault() { stopped = true; } }, ...args);
  return stopped;
}

const out = {
  lockRequested: record.lockRequested,
  quitCalls: record.quitCalls,
  paths: record.paths,
  errorBox: record.errorBox,
  appEvents: app.eventNames(),
  channels: [...record.handlers.keys()],
  menu: record.menu === null ? null : record.menu.template.map((item) =>
    item.role ?? { label: item.label, submenu: item.submenu.map((sub) => sub.role ?? sub.type) }),
  windows: BrowserWindow.all.map((window) => ({ options: window.options, loaded: window.loaded })),
  // Native addons loaded so far (better-sqlite3 require()s the one it opens).
  addons: Object.keys(createRequire(import.meta.url).cache).filter((key) => key.endsWith('.node')),
};

const [window] = BrowserWindow.all;
if (window !== undefined) {
  const pageUrl = pathToFileURL(window.loaded.file).href;
  const contents = window.webContents;
  out.security = {
    pageUrl,
    navigateAway: prevented(contents, 'will-navigate', 'https://evil.example/'),
    navigateFileElsewhere: prevented(contents, 'will-navigate', 'file:///etc/passwd'),
    navigateWithinPage: prevented(contents, 'will-navigate', pageUrl + '#/keys'),
    redirectAway: prevented(contents, 'will-redirect', 'https://evil.example/'),
    windowOpen: contents.openHandler?.({ url: 'https://evil.example/' }) ?? null,
  };
  const other = new FakeWebContents();
  app.emit('web-contents-created', {}, other);
  out.security.otherContents = {
    windowOpen: other.openHandler?.({ url: 'https://evil.example/' }) ?? null,
    webviewPrevented: prevented(other, 'will-attach-webview', {}, {}),
  };
  let granted = null;
  record.permissionRequest?.(contents, 'media', (answer) => { granted = answer; }, {});
  out.security.permissionRequest = granted;
  out.security.permissionCheck = record.permissionCheck?.(contents, 'notifications', pageUrl, {});

  const call = (channel, payload, frame) =>
    record.handlers.get(channel)({ senderFrame: frame, sender: contents }, payload);
  const top = { url: pageUrl, parent: null };
  out.calls = {
    trusted: await call('outbox:list', {}, top),
    status: await call('app:status', {}, top),
    badPayload: await call('keys:create', { type: 'rsa' }, top),
    foreignPage: await call('outbox:list', {}, { url: 'https://evil.example/', parent: null }),
    subFrame: await call('outbox:list', {}, { url: pageUrl, parent: top }),
    noFrame: await call('outbox:list', {}, null),
  };
  app.emit('second-instance', {}, [], '/');
  out.focusCalls = record.focusCalls;
}
process.stdout.write(JSON.stringify(out));
process.exit(0);
`;

const FAKE_MODULE =
  'const f = globalThis.__airlockFakeElectron; export const { app, BrowserWindow, session, ipcMain, Menu, dialog } = f; export default f;';

const HOOKS = `
export async function resolve(specifier, context, next) {
  if (specifier === 'electron') {
    return { url: 'data:text/javascript,' + encodeURIComponent(${JSON.stringify(FAKE_MODULE)}), shortCircuit: true };
  }
  return next(specifier, context);
}
`;

const REGISTER = `
import { register } from 'node:module';
register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(HOOKS)}));
`;

interface Recorded {
  lockRequested: boolean;
  quitCalls: number;
  paths: Record<string, string>;
  errorBox: unknown;
  appEvents: string[];
  channels: string[];
  menu: unknown[] | null;
  windows: { options: Record<string, unknown>; loaded: { file?: string; url?: string } }[];
  addons: string[];
  security?: Record<string, unknown>;
  calls?: Record<
    string,
    { ok: boolean; value?: unknown; error?: { code: string; message: string } }
  >;
  focusCalls?: number;
}

let work: string;

function runMain(env: Record<string, string>): Promise<Recorded> {
  return new Promise((resolve, reject) => {
    const childEnv: NodeJS.ProcessEnv = { ...process.env, MAIN_BUNDLE, ...env };
    if (env['AIRLOCK_HOME'] === undefined) delete childEnv['AIRLOCK_HOME'];
    delete childEnv['ELECTRON_RENDERER_URL'];
    const child = spawn(
      process.execPath,
      ['--import', pathToFileURL(join(work, 'register.mjs')).href, join(work, 'driver.mjs')],
      { cwd: REPO_ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`driver exited ${code}: ${stderr}`));
      else resolve(JSON.parse(stdout) as Recorded);
    });
  });
}

beforeAll(() => {
  if (!existsSync(MAIN_BUNDLE)) throw new Error(`${MAIN_BUNDLE} is missing: run "npm run build"`);
  work = mkdtempSync(join(tmpdir(), 'airlock-wiring-'));
  writeFileSync(join(work, 'driver.mjs'), DRIVER);
  writeFileSync(join(work, 'register.mjs'), REGISTER);
});

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

describe('the built main bundle', () => {
  describe('when it gets the single-instance lock', () => {
    let run: Recorded;
    let home: string;

    beforeAll(async () => {
      home = join(work, 'home');
      run = await runMain({ AIRLOCK_HOME: home, FAKE_APP_DATA: join(work, 'appdata') });
    });

    it('asks for the lock and keeps running', () => {
      expect(run.lockRequested).toBe(true);
      expect(run.quitCalls).toBe(0);
      expect(run.errorBox).toBeNull();
      expect(run.appEvents).toEqual(
        expect.arrayContaining(['second-instance', 'window-all-closed', 'web-contents-created']),
      );
    });

    it('opens one window: sandboxed, isolated, no Node, web security on, the built preload', () => {
      expect(run.windows).toHaveLength(1);
      const [window] = run.windows;
      const prefs = window?.options['webPreferences'] as Record<string, unknown>;
      expect(prefs).toMatchObject({
        sandbox: true,
        contextIsolation: true,
        nodeIntegration: false,
        nodeIntegrationInWorker: false,
        webSecurity: true,
        allowRunningInsecureContent: false,
      });
      expect(prefs).not.toHaveProperty('nodeIntegrationInSubFrames', true);
      expect(prefs).not.toHaveProperty('webviewTag', true);
      expect(prefs['preload']).toBe(join(REPO_ROOT, 'out', 'preload', 'index.cjs'));
      expect(existsSync(prefs['preload'] as string)).toBe(true);
      expect(window?.options['show']).toBe(false);
      // Packaged: the built page, never a URL from the environment.
      expect(window?.loaded).toEqual({ file: join(REPO_ROOT, 'out', 'renderer', 'index.html') });
    });

    it('loads a page with a strict Content-Security-Policy', () => {
      const page = readFileSync(run.windows[0]?.loaded.file as string, 'utf8');
      const csp = /http-equiv="Content-Security-Policy"\s+content="([^"]+)"/.exec(page)?.[1] ?? '';
      const directives = new Map(
        csp.split(';').map((part) => {
          const [name, ...values] = part.trim().split(/\s+/);
          return [name, values.join(' ')] as const;
        }),
      );
      expect(directives.get('default-src')).toBe("'self'");
      expect(directives.get('script-src')).toBe("'self'");
      expect(directives.get('object-src')).toBe("'none'");
      expect(directives.get('base-uri')).toBe("'none'");
      expect(directives.get('frame-ancestors')).toBe("'none'");
      expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|\*/);
    });

    it('denies navigation away, redirects, new windows, webviews and permissions', () => {
      expect(run.security).toMatchObject({
        navigateAway: true,
        navigateFileElsewhere: true,
        navigateWithinPage: false,
        redirectAway: true,
        windowOpen: { action: 'deny' },
        otherContents: { windowOpen: { action: 'deny' }, webviewPrevented: true },
        permissionRequest: false,
        permissionCheck: false,
      });
    });

    it('builds the usual menus', () => {
      expect(run.menu).toEqual([
        'fileMenu',
        'editMenu',
        {
          label: 'View',
          submenu: [
            'reload',
            'forceReload',
            'separator',
            'resetZoom',
            'zoomIn',
            'zoomOut',
            'separator',
            'togglefullscreen',
          ],
        },
        'windowMenu',
      ]);
    });

    it('registers a handler for every channel of channels.ts and nothing else', () => {
      expect([...run.channels].sort()).toEqual([...IPC_CHANNELS].sort());
    });

    it('answers the app page and refuses foreign pages, sub-frames and bad payloads', () => {
      expect(run.calls?.['trusted']).toEqual({ ok: true, value: { items: [] } });
      for (const name of ['foreignPage', 'subFrame', 'noFrame']) {
        expect(run.calls?.[name], name).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
      }
      expect(run.calls?.['badPayload']).toMatchObject({
        ok: false,
        error: { code: 'INVALID_INPUT' },
      });
    });

    it('loads SQLite from node_modules, as a packaged app does', () => {
      expect(run.addons).toContain(NODE_SQLITE_ADDON);
      expect(run.addons.some((addon) => addon.includes('.electron-native'))).toBe(false);
    });

    it('keeps its data in AIRLOCK_HOME', () => {
      expect(run.calls?.['status']).toMatchObject({
        ok: true,
        value: { dataDir: home, appVersion: '9.9.9-test', servers: [], online: false },
      });
      expect(existsSync(join(home, 'airlock.db'))).toBe(true);
    });

    it('brings its window forward when a second instance starts', () => {
      expect(run.focusCalls).toBe(1);
    });
  });

  describe('without AIRLOCK_HOME', () => {
    it('keeps its data in the OS user-data folder', async () => {
      const appData = join(work, 'appdata-default');
      const run = await runMain({ FAKE_APP_DATA: appData });
      expect(run.paths['userData']).toBe(join(appData, 'Airlock'));
      expect(run.calls?.['status']).toMatchObject({
        ok: true,
        value: { dataDir: join(appData, 'Airlock') },
      });
      expect(existsSync(join(appData, 'Airlock', 'airlock.db'))).toBe(true);
    });
  });

  // Run from a checkout (`npm start`): SQLite comes from .electron-native, built for Electron by
  // scripts/electron-native.mjs. Under Node here, the "Electron build" is a copy of the Node one.
  describe('when not packaged', () => {
    const relative = [
      '.electron-native',
      'node_modules',
      'better-sqlite3',
      'build',
      'Release',
      'better_sqlite3.node',
    ];

    it('without the Electron build of SQLite, says to run "npm start" and opens nothing', async () => {
      const checkout = join(work, 'checkout-bare');
      mkdirSync(checkout, { recursive: true });
      const run = await runMain({
        AIRLOCK_HOME: join(work, 'home-bare'),
        FAKE_APP_DATA: join(work, 'appdata-bare'),
        FAKE_PACKAGED: 'no',
        FAKE_APP_PATH: checkout,
      });
      expect(run.errorBox).toEqual({
        title: 'Airlock cannot open its data',
        message: expect.stringContaining(join(checkout, ...relative)) as string,
      });
      expect((run.errorBox as { message: string }).message).toContain('Run "npm start"');
      expect(run.quitCalls).toBe(1);
      expect(run.windows).toEqual([]);
      expect(run.channels).toEqual([]);
      expect(existsSync(join(work, 'home-bare'))).toBe(false);
    });

    it('with it, opens the store through that binary, not the one in node_modules', async () => {
      const checkout = join(work, 'checkout');
      const binding = join(checkout, ...relative);
      mkdirSync(dirname(binding), { recursive: true });
      copyFileSync(NODE_SQLITE_ADDON, binding);
      const home = join(work, 'home-checkout');
      const run = await runMain({
        AIRLOCK_HOME: home,
        FAKE_APP_DATA: join(work, 'appdata-checkout'),
        FAKE_PACKAGED: 'no',
        FAKE_APP_PATH: checkout,
      });
      expect(run.errorBox).toBeNull();
      expect(run.quitCalls).toBe(0);
      expect(run.windows).toHaveLength(1);
      expect(run.calls?.['status']).toMatchObject({ ok: true, value: { dataDir: home } });
      expect(run.addons).toContain(binding);
      expect(run.addons).not.toContain(NODE_SQLITE_ADDON);
    });
  });

  describe('when another instance holds the lock', () => {
    it('quits without a window or any IPC', async () => {
      const run = await runMain({
        AIRLOCK_HOME: join(work, 'second'),
        FAKE_APP_DATA: join(work, 'appdata-second'),
        FAKE_LOCK: 'refused',
      });
      expect(run.lockRequested).toBe(true);
      expect(run.quitCalls).toBe(1);
      expect(run.windows).toEqual([]);
      expect(run.channels).toEqual([]);
      expect(existsSync(join(work, 'second'))).toBe(false);
    });
  });
});
