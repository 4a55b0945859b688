import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  app,
  BrowserWindow,
  dialog,
  Menu,
  session,
  type MenuItemConstructorOptions,
} from 'electron';
import { toErrorShape } from '../core/errors';
import { createHandlers, type ConsoleDialogs } from './ipc/handlers';
import { registerIpc } from './ipc/register';
import { createOsKeychain } from './keys/keychain';
import { KeyStore } from './keys/key-store';
import { denyAllPermissions } from './security';
import { ConsoleServices } from './services/console';
import { createMainWindow } from './window';

// Electron lifecycle only (ARCHITECTURE.md §1: the lifecycle file of src/main): single instance, menu, data directory, IPC and
// the one window. Services and handlers live in files that do not import electron.

// A packaged app never loads a URL from its environment: that would hand the IPC to any page.
const devServerUrl = app.isPackaged ? undefined : process.env['ELECTRON_RENDERER_URL'];
// The page window.ts loads when there is no dev server; only it may call the IPC (register.ts).
const rendererFileUrl = pathToFileURL(join(__dirname, '../renderer/index.html')).href;

// ARCHITECTURE.md §7: the data directory is the OS per-user application-data folder, the same one the CLI
// uses (src/main/paths.ts), unless AIRLOCK_HOME says otherwise.
app.setPath('userData', join(app.getPath('appData'), 'Airlock'));

function dataDirectory(): string {
  const override = process.env['AIRLOCK_HOME'];
  return override !== undefined && override !== '' ? override : app.getPath('userData');
}

/**
 * Where scripts/electron-native.mjs (run by `npm start` and `npm run dev`) puts better-sqlite3 built
 * for Electron: node_modules keeps the Node build the CLI and the tests use. A packaged app has its
 * own, rebuilt by electron-builder, and loads it the usual way.
 */
const CHECKOUT_SQLITE = [
  '.electron-native',
  'node_modules',
  'better-sqlite3',
  'build',
  'Release',
  'better_sqlite3.node',
];

/** The SQLite addon to load, or the sentence saying why a checkout cannot open its data. */
function sqliteBinding(): { nativeBinding?: string } | { missing: string } {
  if (app.isPackaged) return {};
  const nativeBinding = join(app.getAppPath(), ...CHECKOUT_SQLITE);
  if (existsSync(nativeBinding)) return { nativeBinding };
  return {
    missing:
      `SQLite has not been built for Electron in this checkout (${nativeBinding} is missing). ` +
      'Run "npm start", which prepares it (scripts/electron-native.mjs) and opens the console.',
  };
}

/** The usual menus and their shortcuts; developer tools only outside a packaged app. */
function applicationMenu(): Menu {
  const view: MenuItemConstructorOptions[] = [
    { role: 'reload' },
    { role: 'forceReload' },
    ...(app.isPackaged ? [] : [{ role: 'toggleDevTools' } as const]),
    { type: 'separator' },
    { role: 'resetZoom' },
    { role: 'zoomIn' },
    { role: 'zoomOut' },
    { type: 'separator' },
    { role: 'togglefullscreen' },
  ];
  const template: MenuItemConstructorOptions[] = [
    ...(process.platform === 'darwin' ? [{ role: 'appMenu' } as const] : []),
    { role: 'fileMenu' },
    { role: 'editMenu' },
    { label: 'View', submenu: view },
    { role: 'windowMenu' },
  ];
  return Menu.buildFromTemplate(template);
}

const dialogs: ConsoleDialogs = {
  async chooseFolder({ title }) {
    const window = BrowserWindow.getFocusedWindow() ?? BrowserWindow.getAllWindows()[0];
    const options = { title, properties: ['openDirectory' as const] };
    const result =
      window === undefined
        ? await dialog.showOpenDialog(options)
        : await dialog.showOpenDialog(window, options);
    return result.canceled ? null : (result.filePaths[0] ?? null);
  },
};

function start(): void {
  denyAllPermissions(session.defaultSession);
  Menu.setApplicationMenu(applicationMenu());
  const binding = sqliteBinding();
  if ('missing' in binding) {
    dialog.showErrorBox('Airlock cannot open its data', binding.missing);
    app.quit();
    return;
  }
  let services: ConsoleServices;
  try {
    services = ConsoleServices.open(dataDirectory(), binding);
  } catch (error) {
    dialog.showErrorBox('Airlock cannot open its data', toErrorShape(error).message);
    app.quit();
    return;
  }
  app.on('will-quit', () => services.close());
  const handlers = createHandlers({
    services,
    keys: new KeyStore(createOsKeychain()),
    dialogs,
    appVersion: app.getVersion(),
  });
  registerIpc(
    handlers,
    { ...(devServerUrl === undefined ? {} : { devServerUrl }), rendererFileUrl },
    // Logged for whoever debugs; the window only ever sees "An unexpected internal error occurred."
    { onInternalError: (channel, error) => console.error(`airlock: ${channel} failed:`, error) },
  );
  createMainWindow(devServerUrl);
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) createMainWindow(devServerUrl);
  });
}

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  app.on('second-instance', () => {
    const [window] = BrowserWindow.getAllWindows();
    if (window) {
      if (window.isMinimized()) window.restore();
      window.focus();
    }
  });

  // Defence in depth for any web contents, not only the main window: no <webview>, no popups.
  app.on('web-contents-created', (_event, contents) => {
    contents.on('will-attach-webview', (event) => event.preventDefault());
    contents.setWindowOpenHandler(() => ({ action: 'deny' }));
  });

  void app.whenReady().then(start);

  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit();
  });
}
