export { appChannels, createServerClient, AppSummarySchema } from './client';
export type { AppSummary, ServerClient, ServerClientOptions } from './client';
export { ServerApiError } from './errors';
export type { UploadProgress } from './upload';
