import type { IncomingMessage } from 'node:http';
import { AirlockError, calcKeyId, parseCapgoPublicKey } from '../../core';
import { ROLES, type Role } from '../../shared/schemas';
import {
  AddApprovalsRequestSchema,
  ChannelSettingsSchema,
  CreateAppRequestSchema,
  CreateChannelRequestSchema,
  HEALTH_HOURS_DEFAULT,
  HEALTH_HOURS_MAX,
  PushRequestSchema,
  RootUpdateRequestSchema,
  SubmitStatementRequestSchema,
  type ChannelHealth,
  type ChannelStatus,
  type LogPage,
  type PendingStatements,
  type RootChain,
} from '../../shared/schemas/server-api';
import type { Principal } from '../auth';
import { wilsonLowerBound } from '../device/wilson';
import type { DeadlineQueue, Expirable } from '../http/deadlines';
import { HttpError } from '../http/errors';
import { parseWith } from '../http/io';
import type { ReleaseControl } from '../release-control';
import type { ServerStore } from '../store/types';

/**
 * The admin and log API under `/api/v1` (ARCHITECTURE.md §6). Each route names who may call it: `null` is
 * public and unauthenticated (the trust-root chain and the release logs, which anyone may mirror
 * and verify); otherwise an RFC 9421-signed request by a trust-root member holding one of the
 * roles (ARCHITECTURE.md §4). Body handling: `json` (≤ 1 MiB), `none`, or `stream` (bundle uploads).
 */

export interface AdminContext {
  readonly store: ServerStore;
  readonly control: ReleaseControl;
  readonly now: () => Date;
  /** Largest bundle accepted by `PUT /api/v1/bundles/<sha256>`. */
  readonly maxBundleBytes: number;
  /** Checks an upload's pace once per window (slow uploads hold a connection). */
  readonly uploadPace: DeadlineQueue;
  /** The least an upload must send per second, on average over each window. */
  readonly uploadMinBytesPerSecond: number;
}

export interface RouteInput {
  readonly req: IncomingMessage;
  /** Captured path segments, raw (validated by each handler's schema). */
  readonly params: readonly string[];
  readonly query: URLSearchParams;
  /** The signer, for authenticated routes. */
  readonly principal: Principal | null;
  /** The parsed JSON body, for `json` routes. */
  readonly body: unknown;
}

export interface RouteReply {
  readonly status: number;
  readonly body: unknown;
}

export interface AdminRoute {
  readonly method: 'GET' | 'POST' | 'PUT';
  readonly pattern: RegExp;
  /** null: public; otherwise the roles that may call it. */
  readonly roles: readonly Role[] | null;
  readonly body: 'none' | 'json' | 'stream';
  readonly handle: (ctx: AdminContext, input: RouteInput) => Promise<RouteReply>;
}

const ANY_MEMBER: readonly Role[] = ROLES;
const MANAGERS: readonly Role[] = ['admin', 'release_manager'];
const PROPOSERS: readonly Role[] = ['developer', 'release_manager', 'admin'];
const APPROVERS: readonly Role[] = ['admin', 'release_manager', 'signing_officer', 'developer'];

const SEGMENT = '([^/]+)';
const LOG_PAGE_DEFAULT = 100;
const LOG_PAGE_MAX = 1000;
const HOUR_MS = 3_600_000;

function param(input: RouteInput, index: number): string {
  return input.params[index] ?? '';
}

function ok(body: unknown, status = 200): RouteReply {
  return { status, body };
}

function channelStatusOr404(ctx: AdminContext, app: string, channel: string): ChannelStatus {
  const status = ctx.store.channelStatus(app, channel);
  if (status === null) {
    throw new HttpError(404, 'NOT_FOUND', `There is no channel ${channel} in ${app}.`);
  }
  return status;
}

/** A non-negative integer query parameter, or `fallback` when absent; 400 otherwise. */
function intParam(query: URLSearchParams, name: string, fallback: number, max: number): number {
  const raw = query.get(name);
  if (raw === null) return fallback;
  if (!/^\d{1,15}$/.test(raw) || Number(raw) > max) {
    throw new HttpError(
      400,
      'INVALID_INPUT',
      `Query parameter "${name}" must be an integer from 0 to ${max}.`,
    );
  }
  return Number(raw);
}

// ---------------------------------------------------------------------------------------------
// Handlers

/** The Capgo key_id of a bundle public key; PUBLIC_KEY_INVALID unless PKCS#1 RSA-2048. */
function keyIdOf(publicKeyPem: string | undefined): string | null {
  if (publicKeyPem === undefined) return null;
  parseCapgoPublicKey(publicKeyPem);
  return calcKeyId(publicKeyPem);
}

async function createApp(ctx: AdminContext, input: RouteInput): Promise<RouteReply> {
  const request = parseWith(CreateAppRequestSchema, input.body, 'The app');
  const names = request.channels.map((channel) => channel.name);
  if (new Set(names).size !== names.length) {
    throw new HttpError(400, 'INVALID_INPUT', 'The app names a channel twice.');
  }
  const bundleKeyId = keyIdOf(request.bundlePublicKey);
  const channels = request.channels.map((channel) => ({
    name: channel.name,
    settings: channel.settings ?? ChannelSettingsSchema.parse({}),
    bundlePublicKey: channel.bundlePublicKey ?? null,
    bundleKeyId: keyIdOf(channel.bundlePublicKey),
  }));
  await ctx.store.createApp(
    { app: request.app, bundlePublicKey: request.bundlePublicKey ?? null, bundleKeyId, channels },
    ctx.now(),
  );
  return ok({ app: request.app, bundleKeyId, channels: names }, 201);
}

async function listApps(ctx: AdminContext): Promise<RouteReply> {
  return ok({ apps: await ctx.store.listApps() });
}

async function createChannel(ctx: AdminContext, input: RouteInput): Promise<RouteReply> {
  const app = param(input, 0);
  const request = parseWith(CreateChannelRequestSchema, input.body, 'The channel');
  const settings = request.settings ?? ChannelSettingsSchema.parse({});
  await ctx.store.createChannel(
    app,
    {
      name: request.name,
      settings,
      bundlePublicKey: request.bundlePublicKey ?? null,
      bundleKeyId: keyIdOf(request.bundlePublicKey),
    },
    ctx.now(),
  );
  return ok(channelStatusOr404(ctx, app, request.name), 201);
}

async function updateSettings(ctx: AdminContext, input: RouteInput): Promise<RouteReply> {
  const [app, channel] = [param(input, 0), param(input, 1)];
  const settings = parseWith(ChannelSettingsSchema, input.body, 'The channel settings');
  channelStatusOr404(ctx, app, channel);
  await ctx.store.updateChannelSettings(app, channel, settings);
  return ok(channelStatusOr404(ctx, app, channel));
}

function channelStatus(ctx: AdminContext, input: RouteInput): Promise<RouteReply> {
  return Promise.resolve(ok(channelStatusOr404(ctx, param(input, 0), param(input, 1))));
}

/**
 * Adoption and failures per released version (ARCHITECTURE.md §6 stats, §7 health charts). Any member may
 * read it, like the channel status (ARCHITECTURE.md §4): counts only, no device ids. The window is the last
 * `hours` hours, the current one included; the totals cover every outcome since each release, as
 * the automatic pause counts them.
 */
async function channelHealth(ctx: AdminContext, input: RouteInput): Promise<RouteReply> {
  const [app, channel] = [param(input, 0), param(input, 1)];
  const hours = intParam(input.query, 'hours', HEALTH_HOURS_DEFAULT, HEALTH_HOURS_MAX);
  if (hours < 1) {
    throw new HttpError(
      400,
      'INVALID_INPUT',
      `Query parameter "hours" must be an integer from 1 to ${HEALTH_HOURS_MAX}.`,
    );
  }
  const status = channelStatusOr404(ctx, app, channel);
  const sinceHour = (Math.floor(ctx.now().getTime() / HOUR_MS) - (hours - 1)) * HOUR_MS;
  const versions = await ctx.store.channelHealth(app, channel, sinceHour);
  const autoPause = status.settings.autoPause;
  const health: ChannelHealth = {
    app,
    channel,
    hours,
    since: new Date(sinceHour).toISOString(),
    currentVersion: status.current?.version ?? null,
    failureThreshold: autoPause?.failureThreshold ?? null,
    minSamples: autoPause?.minSamples ?? null,
    versions: versions.map((entry) => {
      const total = entry.successes + entry.failures;
      return {
        version: entry.version,
        totals: {
          successes: entry.successes,
          failures: entry.failures,
          successRate: total === 0 ? null : entry.successes / total,
          failureLowerBound: total === 0 ? null : wilsonLowerBound(entry.failures, total),
        },
        series: entry.series.map((point) => ({
          hour: new Date(point.hour).toISOString(),
          successes: point.successes,
          failures: point.failures,
        })),
      };
    }),
  };
  return ok(health);
}

/**
 * An upload's bytes, counted; a {@link DeadlineQueue} checks once per window that enough arrived
 * (ARCHITECTURE.md "Slow and greedy clients") and cuts the connection of an upload that dribbles.
 */
class PacedUpload implements Expirable {
  private received = 0;
  private atLastCheck = 0;
  private finished = false;

  constructor(
    private readonly req: IncomingMessage,
    private readonly queue: DeadlineQueue,
    private readonly minBytes: number,
  ) {
    queue.add(this);
  }

  async *chunks(): AsyncGenerator<Uint8Array> {
    try {
      for await (const chunk of this.req as AsyncIterable<Buffer>) {
        this.received += chunk.byteLength;
        yield chunk;
      }
    } finally {
      this.finished = true;
    }
  }

  expire(): void {
    if (this.finished) return;
    if (this.received - this.atLastCheck < this.minBytes) {
      this.req.destroy(new Error('The upload was slower than the least rate accepted.'));
      return;
    }
    this.atLastCheck = this.received;
    this.queue.add(this);
  }
}

/**
 * The file list the server read from a bundle it checked (ARCHITECTURE.md §5): consoles diff
 * releases with it, after checking it against the `fileListSha256` of the approved statement.
 */
async function bundleFiles(ctx: AdminContext, input: RouteInput): Promise<RouteReply> {
  const sha256 = param(input, 0);
  const files = /^[0-9a-f]{64}$/.test(sha256) ? await ctx.store.checkedFileList(sha256) : null;
  if (files === null) {
    throw new HttpError(404, 'NOT_FOUND', 'The server has checked no bundle with that SHA-256.');
  }
  return ok({ encryptedSha256: sha256, files });
}

async function uploadBundle(ctx: AdminContext, input: RouteInput): Promise<RouteReply> {
  const sha256 = param(input, 0);
  if (!/^[0-9a-f]{64}$/.test(sha256)) {
    throw new HttpError(400, 'INVALID_INPUT', 'A bundle is named by its lowercase hex SHA-256.');
  }
  const declared = Number(input.req.headers['content-length'] ?? '0');
  if (declared > ctx.maxBundleBytes) {
    throw new HttpError(
      413,
      'PAYLOAD_TOO_LARGE',
      `A bundle may be at most ${ctx.maxBundleBytes} bytes.`,
      { headers: { connection: 'close' } },
    );
  }
  const existing = await ctx.store.blobs.stat(sha256);
  if (existing !== null) {
    // Idempotent: the name is the content's hash, so the bytes are the ones already stored.
    input.req.resume();
    return ok({ encryptedSha256: sha256, size: existing.size, created: false });
  }
  try {
    const window = ctx.uploadPace.lengthMs / 1000;
    const upload = new PacedUpload(
      input.req,
      ctx.uploadPace,
      Math.floor(ctx.uploadMinBytesPerSecond * window),
    );
    const { created, size } = await ctx.store.blobs.put(
      sha256,
      upload.chunks(),
      ctx.maxBundleBytes,
    );
    return ok({ encryptedSha256: sha256, size, created }, created ? 201 : 200);
  } catch (error) {
    // The name is the signed Content-Digest: bytes that hash otherwise do not match the digest.
    if (error instanceof AirlockError && error.code === 'BUNDLE_MISMATCH') {
      throw new HttpError(
        400,
        'DIGEST_MISMATCH',
        'The uploaded bytes do not match the Content-Digest.',
      );
    }
    throw error;
  }
}

async function submitStatement(ctx: AdminContext, input: RouteInput): Promise<RouteReply> {
  const request = parseWith(SubmitStatementRequestSchema, input.body, 'The submission');
  const principal = input.principal as Principal;
  const { created, status } = await ctx.control.submit(principal.keyId, request);
  return ok(status, created ? 201 : 200);
}

async function statementStatus(ctx: AdminContext, input: RouteInput): Promise<RouteReply> {
  return ok(await ctx.control.status(param(input, 0)));
}

async function addApprovals(ctx: AdminContext, input: RouteInput): Promise<RouteReply> {
  const request = parseWith(AddApprovalsRequestSchema, input.body, 'The approvals');
  return ok(await ctx.control.addApprovals(param(input, 0), request.approvals));
}

async function push(ctx: AdminContext, input: RouteInput): Promise<RouteReply> {
  const request = parseWith(PushRequestSchema, input.body ?? {}, 'The push');
  return ok(await ctx.control.push(param(input, 0), request.approvals));
}

async function updateRoot(ctx: AdminContext, input: RouteInput): Promise<RouteReply> {
  const request = parseWith(RootUpdateRequestSchema, input.body, 'The root update');
  return ok(await ctx.control.updateRoot(request.signed));
}

async function rootChain(ctx: AdminContext): Promise<RouteReply> {
  const chain: RootChain = {
    roots: await ctx.store.rootChain(),
    server: ctx.store.serverKey,
    limits: {
      maxStatementLifetimeSeconds: Math.floor(ctx.control.rules.maxStatementLifetimeMs / 1000),
    },
  };
  return ok(chain);
}

async function logPage(ctx: AdminContext, input: RouteInput): Promise<RouteReply> {
  const [app, channel] = [param(input, 0), param(input, 1)];
  const after = intParam(input.query, 'after', 0, Number.MAX_SAFE_INTEGER);
  const limit = Math.max(1, intParam(input.query, 'limit', LOG_PAGE_DEFAULT, LOG_PAGE_MAX));
  const page: LogPage | null = await ctx.store.logPage(app, channel, after, limit);
  if (page === null)
    throw new HttpError(404, 'NOT_FOUND', `There is no channel ${channel} in ${app}.`);
  return ok(page);
}

async function pendingList(ctx: AdminContext, input: RouteInput): Promise<RouteReply> {
  const [app, channel] = [param(input, 0), param(input, 1)];
  const statements = await ctx.control.pending(app, channel);
  if (statements === null)
    throw new HttpError(404, 'NOT_FOUND', `There is no channel ${channel} in ${app}.`);
  const answer: PendingStatements = { statements };
  return ok(answer);
}

// ---------------------------------------------------------------------------------------------
// The table

function route(
  method: AdminRoute['method'],
  path: string,
  roles: readonly Role[] | null,
  body: AdminRoute['body'],
  handle: AdminRoute['handle'],
): AdminRoute {
  return { method, pattern: new RegExp(`^/api/v1${path}$`), roles, body, handle };
}

export const ADMIN_ROUTES: readonly AdminRoute[] = [
  route('GET', '/root', null, 'none', rootChain),
  route('POST', '/root', ['admin'], 'json', updateRoot),
  // Public like the log (ARCHITECTURE.md, "The log is public"): an auditor needs the list of
  // what is logged, and read-only commands need no identity.
  route('GET', '/apps', null, 'none', listApps),
  route('POST', '/apps', MANAGERS, 'json', createApp),
  route('POST', `/apps/${SEGMENT}/channels`, MANAGERS, 'json', createChannel),
  route('GET', `/apps/${SEGMENT}/channels/${SEGMENT}`, ANY_MEMBER, 'none', channelStatus),
  route('PUT', `/apps/${SEGMENT}/channels/${SEGMENT}/settings`, MANAGERS, 'json', updateSettings),
  route('GET', `/apps/${SEGMENT}/channels/${SEGMENT}/health`, ANY_MEMBER, 'none', channelHealth),
  route('GET', `/apps/${SEGMENT}/channels/${SEGMENT}/log`, null, 'none', logPage),
  route('GET', `/apps/${SEGMENT}/channels/${SEGMENT}/pending`, ANY_MEMBER, 'none', pendingList),
  route('PUT', `/bundles/${SEGMENT}`, PROPOSERS, 'stream', uploadBundle),
  route('GET', `/bundles/${SEGMENT}/files`, ANY_MEMBER, 'none', bundleFiles),
  route('POST', '/statements', PROPOSERS, 'json', submitStatement),
  route('GET', `/statements/${SEGMENT}`, ANY_MEMBER, 'none', statementStatus),
  route('POST', `/statements/${SEGMENT}/approvals`, APPROVERS, 'json', addApprovals),
  route('POST', `/statements/${SEGMENT}/push`, MANAGERS, 'json', push),
];

/**
 * The route for `method` and `path`, or why there is none (404, or 405 with what is allowed).
 * @example matchRoute('GET', '/api/v1/root') // { route, params: [] }
 */
export function matchRoute(method: string, path: string): { route: AdminRoute; params: string[] } {
  const allowed: string[] = [];
  for (const candidate of ADMIN_ROUTES) {
    const match = candidate.pattern.exec(path);
    if (match === null) continue;
    if (candidate.method === method) return { route: candidate, params: match.slice(1) };
    allowed.push(candidate.method);
  }
  if (allowed.length === 0) throw new HttpError(404, 'NOT_FOUND', `There is no ${path}.`);
  throw new HttpError(405, 'METHOD_NOT_ALLOWED', `${path} accepts ${allowed.join(', ')}.`, {
    headers: { allow: allowed.join(', ') },
  });
}
