import { z } from 'zod';
import { sha256 } from '../../core/crypto';
import { AirlockError } from '../../core/errors';
import { signRequest } from '../../core/http-signature';
import type { IdentitySigner } from '../../core/statement';
import type { BundleFile } from '../../core/bundle';
import {
  ApiErrorSchema,
  BundleFileListSchema,
  ChannelHealthSchema,
  ChannelStatusSchema,
  LogPageSchema,
  PushResultSchema,
  RootChainSchema,
  StatementStatusSchema,
  PendingStatementsSchema,
  type Approval,
  type ChannelHealth,
  type ChannelSettings,
  type ChannelStatus,
  type CreateAppRequest,
  type LogPage,
  type PushResult,
  type RootChain,
  type SignedTrustRoot,
  type Statement,
  type StatementStatus,
} from '../../shared/schemas';
import { ServerApiError, unreachable } from './errors';
import { fileSha256, fileUploadBody, type UploadProgress } from './upload';

/**
 * A small client for the Airlock admin and log API (ARCHITECTURE.md §6). Every admin request is signed with
 * an identity key (RFC 9421 with an RFC 9530 Content-Digest), every answer is parsed with the shared
 * schemas (the server is untrusted: ARCHITECTURE.md rule 13), and every error answer becomes an AirlockError
 * carrying the server's own sentence. Uses the global fetch: no electron here (ARCHITECTURE.md §1).
 */

export interface ServerClientOptions {
  /** The server's base URL, e.g. `https://airlock.example` (paths are appended). */
  readonly baseUrl: string;
  /** Signs admin requests; public reads (root chain, log) need none. */
  readonly signer?: IdentitySigner;
  /** A fetch to use instead of the global one (tests). */
  readonly fetch?: typeof fetch;
  /** Time allowed for one JSON request. Default 30 s. */
  readonly timeoutMs?: number;
}

/** What the server says about an app (only the fields the clients rely on are checked). */
export const AppSummarySchema = z.looseObject({
  app: z.string(),
  channels: z.array(z.union([z.string(), z.looseObject({ name: z.string() })])).optional(),
});
export type AppSummary = z.infer<typeof AppSummarySchema>;

/** The channel names a server lists for an app, whichever form it uses. */
export function appChannels(app: AppSummary): { app: string; channel: string }[] {
  return (app.channels ?? []).map((entry) => ({
    app: app.app,
    channel: typeof entry === 'string' ? entry : entry.name,
  }));
}

const AppListSchema = z.looseObject({ apps: z.array(AppSummarySchema) });
const BundleFilesAnswerSchema = z.looseObject({ files: BundleFileListSchema });
const UploadResultSchema = z.looseObject({ sha256: z.string().optional() });

export interface ServerClient {
  readonly baseUrl: string;
  /** `GET /api/v1/root`: the root chain, version 1 first, and the server key (public). */
  getRootChain(): Promise<RootChain>;
  /** `GET /api/v1/apps/<app>/channels/<channel>/log?after=N&limit=M` (public). */
  getLogPage(
    app: string,
    channel: string,
    page?: { after?: number; limit?: number },
  ): Promise<LogPage>;
  /** `POST /api/v1/apps`. */
  createApp(request: CreateAppRequest): Promise<AppSummary>;
  /** `POST /api/v1/apps/<app>/channels`. */
  createChannel(
    app: string,
    channel: { name: string; settings?: Partial<ChannelSettings>; bundlePublicKey?: string },
  ): Promise<unknown>;
  /** `GET /api/v1/apps` (public). */
  listApps(): Promise<AppSummary[]>;
  /** `GET /api/v1/apps/<app>/channels/<channel>`: what devices get right now. */
  getChannel(app: string, channel: string): Promise<ChannelStatus>;
  /**
   * `GET /api/v1/apps/<app>/channels/<channel>/health?hours=N`: outcomes per released version,
   * hourly over the last `hours` (1–720; the server's default 168 when omitted).
   */
  getChannelHealth(app: string, channel: string, hours?: number): Promise<ChannelHealth>;
  /**
   * `PUT /api/v1/bundles/<encryptedSha256>`: streams the file after checking, by streaming it once
   * first, that its SHA-256 is `encryptedSha256` (the digest is also what the request signs).
   */
  uploadBundle(
    encryptedSha256: string,
    filePath: string,
    onProgress?: (progress: UploadProgress) => void,
  ): Promise<{ sha256: string; size: number }>;
  /** `POST /api/v1/statements`: a new proposal, with approvals gathered so far. */
  submitStatement(statement: Statement, approvals?: Approval[]): Promise<StatementStatus>;
  /** `GET /api/v1/statements/<id>`. */
  getStatement(id: string): Promise<StatementStatus>;
  /** `GET /api/v1/apps/<app>/channels/<channel>/pending`: what waits for approval there. */
  listPending(app: string, channel: string): Promise<StatementStatus[]>;
  /** `GET /api/v1/bundles/<sha256>/files`: the file list the server read from a checked bundle. */
  getBundleFiles(encryptedSha256: string): Promise<BundleFile[]>;
  /** `POST /api/v1/statements/<id>/approvals`. */
  addApprovals(id: string, approvals: Approval[]): Promise<StatementStatus>;
  /** `POST /api/v1/statements/<id>/push`: apply now if the policy is satisfied (idempotent). */
  push(id: string, approvals?: Approval[]): Promise<PushResult>;
  /** `POST /api/v1/root`: submit the next trust-root version. */
  submitRoot(signed: SignedTrustRoot): Promise<unknown>;
}

interface RequestSpec<T> {
  readonly method: 'GET' | 'POST' | 'PUT';
  readonly path: string;
  readonly schema: z.core.$ZodType<T>;
  readonly json?: unknown;
  /** Admin requests are signed; public reads are not. */
  readonly signed: boolean;
}

/** Normalizes a base URL: absolute http(s), no trailing slash, no query. */
function normalizeBaseUrl(baseUrl: string): string {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new AirlockError('INVALID_ARGUMENT', `The server URL "${baseUrl}" is not a valid URL.`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new AirlockError(
      'INVALID_ARGUMENT',
      `The server URL must start with http:// or https://.`,
    );
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

function segment(value: string): string {
  return encodeURIComponent(value);
}

/**
 * Creates a client for one server.
 * @example
 * const client = createServerClient({ baseUrl: 'http://127.0.0.1:8787', signer });
 * const status = await client.getChannel('com.example.app', 'production');
 */
export function createServerClient(options: ServerClientOptions): ServerClient {
  const baseUrl = normalizeBaseUrl(options.baseUrl);
  const doFetch = options.fetch ?? globalThis.fetch;
  const timeoutMs = options.timeoutMs ?? 30_000;

  async function signedHeaders(
    method: string,
    url: string,
    bodySha256: Uint8Array,
  ): Promise<Record<string, string>> {
    if (options.signer === undefined) {
      throw new AirlockError('INVALID_ARGUMENT', 'This request needs an identity key to sign it.');
    }
    return { ...(await signRequest({ method, url, bodySha256 }, options.signer)) };
  }

  async function send(url: string, init: RequestInit): Promise<Response> {
    try {
      return await doFetch(url, init);
    } catch (error) {
      throw unreachable(baseUrl, error);
    }
  }

  async function parseAnswer<T>(response: Response, schema: z.core.$ZodType<T>): Promise<T> {
    const text = await response.text().catch((error: unknown) => {
      throw unreachable(baseUrl, error);
    });
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new AirlockError(
        'INVALID_INPUT',
        `The server at ${baseUrl} answered HTTP ${response.status} with something that is not JSON; is it an Airlock server?`,
      );
    }
    if (!response.ok) {
      const error = ApiErrorSchema.safeParse(body);
      if (error.success)
        throw new ServerApiError(response.status, error.data.error, error.data.message);
      throw new ServerApiError(
        response.status,
        'HTTP_ERROR',
        `The server at ${baseUrl} answered HTTP ${response.status}.`,
      );
    }
    const parsed = z.safeParse(schema, body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue === undefined ? '' : ` (at "${issue.path.map(String).join('.')}")`;
      throw new AirlockError(
        'INVALID_INPUT',
        `The server at ${baseUrl} sent an answer that does not match the Airlock API${where}.`,
      );
    }
    return parsed.data;
  }

  async function request<T>(spec: RequestSpec<T>): Promise<T> {
    const url = `${baseUrl}${spec.path}`;
    const body = spec.json === undefined ? undefined : JSON.stringify(spec.json);
    const bytes = new TextEncoder().encode(body ?? '');
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (spec.signed) Object.assign(headers, await signedHeaders(spec.method, url, sha256(bytes)));
    const response = await send(url, {
      method: spec.method,
      headers,
      ...(body === undefined ? {} : { body }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    return parseAnswer(response, spec.schema);
  }

  async function uploadBundle(
    encryptedSha256: string,
    filePath: string,
    onProgress?: (progress: UploadProgress) => void,
  ): Promise<{ sha256: string; size: number }> {
    const { digest, size } = await fileSha256(filePath, onProgress);
    if (Buffer.from(digest).toString('hex') !== encryptedSha256) {
      throw new AirlockError(
        'CHECKSUM_MISMATCH',
        `${filePath} does not have the SHA-256 its details name (${encryptedSha256.slice(0, 16)}…); was it changed after encryption?`,
      );
    }
    const url = `${baseUrl}/api/v1/bundles/${segment(encryptedSha256)}`;
    const headers = {
      'content-type': 'application/octet-stream',
      'content-length': String(size),
      accept: 'application/json',
      ...(await signedHeaders('PUT', url, digest)),
    };
    const response = await send(url, {
      method: 'PUT',
      headers,
      body: fileUploadBody(filePath, size, onProgress),
      duplex: 'half',
    });
    await parseAnswer(response, UploadResultSchema);
    return { sha256: encryptedSha256, size };
  }

  return {
    baseUrl,
    getRootChain: () =>
      request({ method: 'GET', path: '/api/v1/root', schema: RootChainSchema, signed: false }),
    getLogPage: (app, channel, page = {}) => {
      const query = new URLSearchParams();
      if (page.after !== undefined) query.set('after', String(page.after));
      if (page.limit !== undefined) query.set('limit', String(page.limit));
      const suffix = query.size > 0 ? `?${query.toString()}` : '';
      return request({
        method: 'GET',
        path: `/api/v1/apps/${segment(app)}/channels/${segment(channel)}/log${suffix}`,
        schema: LogPageSchema,
        signed: false,
      });
    },
    createApp: (body) =>
      request({
        method: 'POST',
        path: '/api/v1/apps',
        schema: AppSummarySchema,
        json: body,
        signed: true,
      }),
    createChannel: (app, channel) =>
      request({
        method: 'POST',
        path: `/api/v1/apps/${segment(app)}/channels`,
        schema: z.unknown(),
        json: channel,
        signed: true,
      }),
    listApps: async () =>
      (await request({ method: 'GET', path: '/api/v1/apps', schema: AppListSchema, signed: false }))
        .apps,
    getChannel: (app, channel) =>
      request({
        method: 'GET',
        path: `/api/v1/apps/${segment(app)}/channels/${segment(channel)}`,
        schema: ChannelStatusSchema,
        signed: true,
      }),
    getChannelHealth: (app, channel, hours) =>
      request({
        method: 'GET',
        path: `/api/v1/apps/${segment(app)}/channels/${segment(channel)}/health${
          hours === undefined ? '' : `?hours=${String(hours)}`
        }`,
        schema: ChannelHealthSchema,
        signed: true,
      }),
    uploadBundle,
    submitStatement: (statement, approvals = []) =>
      request({
        method: 'POST',
        path: '/api/v1/statements',
        schema: StatementStatusSchema,
        json: { statement, approvals },
        signed: true,
      }),
    getStatement: (id) =>
      request({
        method: 'GET',
        path: `/api/v1/statements/${segment(id)}`,
        schema: StatementStatusSchema,
        signed: true,
      }),
    listPending: async (app, channel) =>
      (
        await request({
          method: 'GET',
          path: `/api/v1/apps/${segment(app)}/channels/${segment(channel)}/pending`,
          schema: PendingStatementsSchema,
          signed: true,
        })
      ).statements,
    getBundleFiles: async (sha) =>
      (
        await request({
          method: 'GET',
          path: `/api/v1/bundles/${segment(sha)}/files`,
          schema: BundleFilesAnswerSchema,
          signed: true,
        })
      ).files,
    addApprovals: (id, approvals) =>
      request({
        method: 'POST',
        path: `/api/v1/statements/${segment(id)}/approvals`,
        schema: StatementStatusSchema,
        json: { approvals },
        signed: true,
      }),
    push: (id, approvals = []) =>
      request({
        method: 'POST',
        path: `/api/v1/statements/${segment(id)}/push`,
        schema: PushResultSchema,
        json: { approvals },
        signed: true,
      }),
    submitRoot: (signed) =>
      request({
        method: 'POST',
        path: '/api/v1/root',
        schema: z.unknown(),
        json: { signed },
        signed: true,
      }),
  };
}
