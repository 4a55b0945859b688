import { ipcMain, type IpcMainInvokeEvent } from 'electron';
import { IPC_CHANNELS, IpcEvents } from '../../shared/ipc/channels';
import { err } from '../../shared/result';
import { isInternalUrl } from '../trusted-url';
import { invokeHandler, type HandlerTable } from './handle';

/**
 * The only Electron IPC wiring (ARCHITECTURE.md §1): one `ipcMain.handle` per channel of channels.ts, each
 * checking the sender frame before the shared `invokeHandler` parses the payload and runs the
 * handler. Progress goes back to the window that asked, as `IpcEvents.progress`.
 */

export interface AppUrls {
  readonly devServerUrl?: string;
  readonly rendererFileUrl: string;
}

/**
 * Only the app's own page, in its top frame, may call (Electron advisory GHSA-mq8j-3h7h-p8g7:
 * "validate senderFrame"). A frame that navigated away or was destroyed has no `senderFrame`.
 */
export function isTrustedSender(event: IpcMainInvokeEvent, app: AppUrls): boolean {
  const frame = event.senderFrame;
  if (frame === null) return false;
  if (frame.parent !== null) return false;
  return isInternalUrl(frame.url, app);
}

/** Registers every channel; returns the function that removes them again. */
export function registerIpc(
  table: HandlerTable,
  app: AppUrls,
  options: { onInternalError?: (channel: string, error: unknown) => void } = {},
): () => void {
  for (const channel of IPC_CHANNELS) {
    ipcMain.handle(channel, async (event: IpcMainInvokeEvent, payload: unknown) => {
      if (!isTrustedSender(event, app)) {
        return err({ code: 'FORBIDDEN', message: 'This page may not use the Airlock console.' });
      }
      const sender = event.sender;
      return invokeHandler(table, channel, payload, {
        progress: (progress) => {
          if (!sender.isDestroyed()) sender.send(IpcEvents.progress, progress);
        },
        ...(options.onInternalError === undefined
          ? {}
          : { onInternalError: options.onInternalError }),
      });
    });
  }
  return () => {
    for (const channel of IPC_CHANNELS) ipcMain.removeHandler(channel);
  };
}
