import type { Session, WebContents } from 'electron';
import { isInternalUrl } from './trusted-url';

/** Deny navigation away from the app, new windows and redirects (ARCHITECTURE.md rule 1; Electron security checklist 13, 14). */
export function hardenWebContents(
  contents: WebContents,
  app: { devServerUrl?: string; rendererFileUrl: string },
): void {
  contents.on('will-navigate', (event, url) => {
    if (!isInternalUrl(url, app)) event.preventDefault();
  });
  contents.on('will-redirect', (event, url) => {
    if (!isInternalUrl(url, app)) event.preventDefault();
  });
  contents.setWindowOpenHandler(() => ({ action: 'deny' }));
}

/** Deny every permission request (camera, notifications, …): the console needs none (checklist 5). */
export function denyAllPermissions(session: Session): void {
  session.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
  session.setPermissionCheckHandler(() => false);
}
