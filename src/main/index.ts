import { app, BrowserWindow, session } from 'electron';
import { denyAllPermissions } from './security';
import { createMainWindow } from './window';

// Electron lifecycle only (STYLE: main/index.ts). Services live in files that do not import electron.
const rendererUrl = process.env['ELECTRON_RENDERER_URL'];

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

  void app.whenReady().then(() => {
    denyAllPermissions(session.defaultSession);
    createMainWindow(rendererUrl);
    app.on('activate', () => {
      if (BrowserWindow.getAllWindows().length === 0) createMainWindow(rendererUrl);
    });
  });

  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit();
  });
}
