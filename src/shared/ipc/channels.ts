/**
 * Every IPC channel of the console, declared once (ARCHITECTURE.md rule 3; names `domain:verb-noun`). No
 * imports: the sandboxed preload bundles this file and nothing else from src/shared at run time.
 *
 * `IpcChannels` are request/response channels (`ipcRenderer.invoke` → `ipcMain.handle`); each has
 * a zod request and response schema in `contract.ts` and one handler in src/main/ipc/handlers.ts.
 * `IpcEvents` flow the other way only (main → window) and have no handler.
 */
export const IpcChannels = {
  appStatus: 'app:status',
  dialogChooseFolder: 'dialog:choose-folder',
  keysList: 'keys:list',
  keysCreate: 'keys:create',
  keysExportPublic: 'keys:export-public',
  keysBackup: 'keys:backup',
  keysRestore: 'keys:restore',
  serversConnect: 'servers:connect',
  serversList: 'servers:list',
  appsOverview: 'apps:overview',
  deviceTrust: 'device:trust',
  bundlesBuild: 'bundles:build',
  releasesPropose: 'releases:propose',
  releasesPush: 'releases:push',
  rolloutChange: 'rollout:change',
  rollbackPropose: 'rollback:propose',
  approvalsInbox: 'approvals:inbox',
  approvalsReview: 'approvals:review',
  approvalsApprove: 'approvals:approve',
  approvalsImport: 'approvals:import',
  approvalsExportRequest: 'approvals:export-request',
  historyList: 'history:list',
  healthSeries: 'health:series',
  syncRun: 'sync:run',
  outboxList: 'outbox:list',
  outboxRetry: 'outbox:retry',
  auditList: 'audit:list',
  auditVerify: 'audit:verify',
  findingsList: 'findings:list',
} as const;

export type IpcChannel = (typeof IpcChannels)[keyof typeof IpcChannels];

/** Every request/response channel, in declaration order. */
export const IPC_CHANNELS: readonly IpcChannel[] = Object.freeze(Object.values(IpcChannels));

/** Main → window events. */
export const IpcEvents = {
  /** Progress of long work (build, encrypt, upload, deliver, verify); payload `ProgressEvent`. */
  progress: 'event:progress',
} as const;

/**
 * The shape of `window.api`: domain → function name → channel. The preload writes each function
 * out by hand over this layout, the test bridge builds the same object from it, and `RendererApi`
 * (src/shared/api.ts) derives its types from it, so the three cannot drift apart.
 */
export const API_LAYOUT = {
  app: { status: IpcChannels.appStatus },
  dialogs: { chooseFolder: IpcChannels.dialogChooseFolder },
  keys: {
    list: IpcChannels.keysList,
    create: IpcChannels.keysCreate,
    exportPublic: IpcChannels.keysExportPublic,
    backup: IpcChannels.keysBackup,
    restore: IpcChannels.keysRestore,
  },
  servers: { connect: IpcChannels.serversConnect, list: IpcChannels.serversList },
  apps: { overview: IpcChannels.appsOverview },
  device: { trust: IpcChannels.deviceTrust },
  bundles: { build: IpcChannels.bundlesBuild },
  releases: { propose: IpcChannels.releasesPropose, push: IpcChannels.releasesPush },
  rollout: { change: IpcChannels.rolloutChange },
  rollback: { propose: IpcChannels.rollbackPropose },
  approvals: {
    inbox: IpcChannels.approvalsInbox,
    review: IpcChannels.approvalsReview,
    approve: IpcChannels.approvalsApprove,
    import: IpcChannels.approvalsImport,
    exportRequest: IpcChannels.approvalsExportRequest,
  },
  history: { list: IpcChannels.historyList },
  health: { series: IpcChannels.healthSeries },
  sync: { run: IpcChannels.syncRun },
  outbox: { list: IpcChannels.outboxList, retry: IpcChannels.outboxRetry },
  audit: { list: IpcChannels.auditList, verify: IpcChannels.auditVerify },
  findings: { list: IpcChannels.findingsList },
} as const;

export type ApiLayout = typeof API_LAYOUT;
