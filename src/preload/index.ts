import { contextBridge } from 'electron';
import type { RendererApi } from '../shared/api';

// Named values only, never a generic invoke (STYLE rule 2). The console's operations arrive with
// their IPC channels in src/shared/ipc.
const api = {
  platform: process.platform,
} satisfies RendererApi;

contextBridge.exposeInMainWorld('api', api);
