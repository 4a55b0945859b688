import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import type { RendererApi } from '../shared/api';
import type { IpcChannel } from '../shared/ipc/channels';
import type { ProgressEvent } from '../shared/ipc/contract';
import { IpcChannels as Ch, IpcEvents } from '../shared/ipc/channels';

// Named functions only, one per operation, never a generic invoke (ARCHITECTURE.md rule 2). A sandboxed
// preload cannot load npm packages: this file imports electron and the channel constants, and
// types only otherwise (the built out/preload/index.cjs requires nothing but electron). Main
// validates every payload; the functions here only carry it.

/** Every request is an object: calls without input send `{}`. */
function call(channel: IpcChannel, input: unknown): Promise<never> {
  return ipcRenderer.invoke(channel, input ?? {}) as Promise<never>;
}

const api = {
  platform: process.platform,
  app: { status: (input) => call(Ch.appStatus, input) },
  dialogs: { chooseFolder: (input) => call(Ch.dialogChooseFolder, input) },
  keys: {
    list: (input) => call(Ch.keysList, input),
    create: (input) => call(Ch.keysCreate, input),
    exportPublic: (input) => call(Ch.keysExportPublic, input),
    backup: (input) => call(Ch.keysBackup, input),
    restore: (input) => call(Ch.keysRestore, input),
  },
  servers: {
    connect: (input) => call(Ch.serversConnect, input),
    list: (input) => call(Ch.serversList, input),
  },
  apps: { overview: (input) => call(Ch.appsOverview, input) },
  device: { trust: (input) => call(Ch.deviceTrust, input) },
  bundles: { build: (input) => call(Ch.bundlesBuild, input) },
  releases: {
    propose: (input) => call(Ch.releasesPropose, input),
    push: (input) => call(Ch.releasesPush, input),
  },
  rollout: { change: (input) => call(Ch.rolloutChange, input) },
  rollback: { propose: (input) => call(Ch.rollbackPropose, input) },
  approvals: {
    inbox: (input) => call(Ch.approvalsInbox, input),
    review: (input) => call(Ch.approvalsReview, input),
    approve: (input) => call(Ch.approvalsApprove, input),
    import: (input) => call(Ch.approvalsImport, input),
    exportRequest: (input) => call(Ch.approvalsExportRequest, input),
  },
  history: { list: (input) => call(Ch.historyList, input) },
  health: { series: (input) => call(Ch.healthSeries, input) },
  sync: { run: (input) => call(Ch.syncRun, input) },
  outbox: {
    list: (input) => call(Ch.outboxList, input),
    retry: (input) => call(Ch.outboxRetry, input),
  },
  audit: {
    list: (input) => call(Ch.auditList, input),
    verify: (input) => call(Ch.auditVerify, input),
  },
  findings: { list: (input) => call(Ch.findingsList, input) },
  onProgress(listener: (event: ProgressEvent) => void): () => void {
    // The listener gets the payload only, never Electron's event object (it exposes `sender`).
    const forward = (_event: IpcRendererEvent, payload: ProgressEvent): void => listener(payload);
    ipcRenderer.on(IpcEvents.progress, forward);
    return () => {
      ipcRenderer.removeListener(IpcEvents.progress, forward);
    };
  },
} satisfies RendererApi;

contextBridge.exposeInMainWorld('api', api);
