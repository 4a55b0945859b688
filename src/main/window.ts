import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BrowserWindow } from 'electron';
import { hardenWebContents } from './security';

/** Options of the one main window: sandboxed, isolated, no Node (ARCHITECTURE.md rule 1, ARCHITECTURE.md §7). */
export function mainWindowOptions(preloadPath: string): Electron.BrowserWindowConstructorOptions {
  return {
    width: 1280,
    height: 820,
    minWidth: 960,
    minHeight: 600,
    show: false,
    title: 'Airlock',
    webPreferences: {
      preload: preloadPath,
      sandbox: true,
      contextIsolation: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      spellcheck: false,
    },
  };
}

export function createMainWindow(rendererUrl: string | undefined): BrowserWindow {
  const window = new BrowserWindow(mainWindowOptions(join(__dirname, '../preload/index.cjs')));
  const rendererFile = join(__dirname, '../renderer/index.html');
  hardenWebContents(window.webContents, {
    ...(rendererUrl === undefined ? {} : { devServerUrl: rendererUrl }),
    rendererFileUrl: pathToFileURL(rendererFile).href,
  });
  window.once('ready-to-show', () => window.show());
  if (rendererUrl !== undefined) void window.loadURL(rendererUrl);
  else void window.loadFile(rendererFile);
  return window;
}
