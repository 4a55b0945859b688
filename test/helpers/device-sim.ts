import { createHash, randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  buildBundle,
  calcKeyId,
  encryptBundle,
  verifyEncryptedBundle,
  type RsaPrivateSigner,
} from '../../src/core/bundle';
import { createApproval, statementId, type IdentitySigner } from '../../src/core/statement';
import type { BundleRef, ReleaseStatement, Statement } from '../../src/shared/schemas';
import type {
  ChannelSettingsInput,
  ChannelStatus,
  LogPage,
} from '../../src/shared/schemas/server-api';
import { signedFetch } from './server';

/**
 * A device running the stock `@capgo/capacitor-updater` 8.51.14, reduced to its network protocol
 * and install checks (PROTOCOL.md §2–5, §7; ARCHITECTURE.md §10). It follows the plugin's own steps:
 *
 * 1. POST the info object to `updateUrl`, with the plugin's User-Agent (§1, §2);
 * 2. any `error` or `kind` in the answer means no install; `kind: "failed"` (or a missing/unknown
 *    kind) also queues a `download_fail` stat (§3.2);
 * 3. download `url`; with a publicKey and an empty checksum → `checksum_required` (§3.3);
 * 4. unwrap `session_key` with the app's public key, AES-128-CBC decrypt, RSA-open the V3 checksum
 *    and compare it with sha256 of the decrypted zip, apply the unzip path rules (§3.3, §7 step 10):
 *    all done by core's `verifyEncryptedBundle`, which implements exactly those steps;
 * 5. "install": remember the new version_name, and send `download_complete` + `set` as one JSON
 *    array to `statsUrl`, the way the plugin flushes its queue (§5).
 *
 * Nothing is written to a real phone; the decrypted bundle lives in a temp folder that is removed.
 */

export type ResultKind = 'up_to_date' | 'blocked' | 'failed';

/** Raw answer of an update check, as the plugin reads it. */
export interface UpdateCheck {
  readonly status: number;
  readonly body: Record<string, unknown>;
  /** True when the plugin would download (`version` and `url`, no `error`/`kind`). */
  readonly available: boolean;
  /** The normalized kind of a "no update" answer (plugin `normalizedUpdateResponseKind`). */
  readonly kind: ResultKind | null;
  readonly error: string | null;
}

export type UpdateOutcome =
  | { readonly result: 'installed'; readonly version: string; readonly files: number }
  | {
      readonly result: 'no_update';
      readonly kind: ResultKind;
      readonly error: string;
      readonly message: string;
    }
  /** A download or install step failed; `stat` is the action the plugin reports. */
  | { readonly result: 'failed'; readonly stat: string; readonly message: string };

export interface DeviceSimOptions {
  /** Server base URL, e.g. `http://127.0.0.1:8787`; endpoints default to `<base>/updates` etc. */
  readonly baseUrl: string;
  readonly appId: string;
  /** The app's bundle public key (capacitor.config `publicKey`); sets `key_id` (§1, §7 step 9). */
  readonly publicKeyPem?: string;
  /** Sent as `key_id` instead of the one computed from publicKeyPem (tests of key_id_mismatch). */
  readonly keyIdOverride?: string;
  readonly deviceId?: string;
  readonly platform?: 'android' | 'ios';
  /** Native app version (`version_build`). */
  readonly versionBuild?: string;
  /** capacitor.config `defaultChannel`. */
  readonly defaultChannel?: string;
  readonly osVersion?: string;
  readonly pluginVersion?: string;
  readonly updateUrl?: string;
  readonly statsUrl?: string;
  readonly channelUrl?: string;
  /**
   * The loopback address the device's requests come from (127.0.0.0/8: each is a distinct source
   * to the server, as distinct networks are in the field). Default: the system's choice.
   */
  readonly localAddress?: string;
}

/** One stat event as the plugin queues it (§5). */
export interface StatEventBody extends Record<string, unknown> {
  readonly action: string;
  readonly version_name: string;
  readonly old_version_name: string;
  readonly timestamp: number;
}

const PLUGIN_VERSION = '8.51.14';

/** Which stat the plugin sends for a failed install step (CapgoUpdater.java, DownloadService.java). */
export function failureStat(code: string, message: string): string {
  switch (code) {
    case 'SESSION_KEY_INVALID':
    case 'DECRYPT_FAILED':
    case 'PUBLIC_KEY_INVALID':
      return 'decrypt_fail';
    case 'CHECKSUM_INVALID':
    case 'CHECKSUM_MISMATCH':
      return 'checksum_fail';
    case 'BUNDLE_PATH_REJECTED':
      return message.includes('windows_path_fail') ? 'windows_path_fail' : 'canonical_path_fail';
    default:
      return 'unzip_fail';
  }
}

function normalizeKind(kind: unknown): ResultKind {
  return kind === 'up_to_date' || kind === 'blocked' ? kind : 'failed';
}

/** A simulated phone. Not thread-safe: one operation at a time per device. */
export class DeviceSim {
  readonly deviceId: string;
  /** The bundle the device runs: `builtin` or a version name. */
  versionName = 'builtin';
  /** The channel the plugin sends as `defaultChannel` (config, or a setChannel override). */
  defaultChannel: string | undefined;
  /** Stat batches sent, oldest first, with the HTTP status of each. */
  readonly sentStats: { status: number; events: StatEventBody[] }[] = [];
  private readonly configChannel: string | undefined;

  constructor(readonly options: DeviceSimOptions) {
    this.deviceId = (options.deviceId ?? randomUUID()).toLowerCase();
    this.defaultChannel = options.defaultChannel;
    this.configChannel = options.defaultChannel;
  }

  private get base(): string {
    return this.options.baseUrl.replace(/\/+$/, '');
  }

  /** `User-Agent: CapacitorUpdater/<plugin_version> (<app_id>) android|ios/<version_os>` (§1). */
  get headers(): Record<string, string> {
    const { appId, platform = 'android', osVersion = '14' } = this.options;
    return {
      'user-agent': `CapacitorUpdater/${this.options.pluginVersion ?? PLUGIN_VERSION} (${appId}) ${platform}/${osVersion}`,
      'content-type': 'application/json; charset=utf-8',
    };
  }

  /** The info object (§2), as Android's createInfoObject builds it. */
  infoObject(): Record<string, unknown> {
    const o = this.options;
    const info: Record<string, unknown> = {
      platform: o.platform ?? 'android',
      device_id: this.deviceId,
      app_id: o.appId,
      custom_id: '',
      version_build: o.versionBuild ?? '1.0.0',
      version_code: '1',
      version_os: o.osVersion ?? '14',
      version_name: this.versionName,
      plugin_version: o.pluginVersion ?? PLUGIN_VERSION,
      is_emulator: false,
      is_prod: true,
      install_source: 'google_play',
    };
    if (this.defaultChannel !== undefined) info.defaultChannel = this.defaultChannel;
    const keyId =
      o.keyIdOverride ?? (o.publicKeyPem === undefined ? undefined : calcKeyId(o.publicKeyPem));
    if (keyId !== undefined) info.key_id = keyId;
    return info;
  }

  private async requestJson(
    url: string,
    method: string,
    body?: unknown,
  ): Promise<{ status: number; body: unknown }> {
    const text = body === undefined ? undefined : JSON.stringify(body);
    const { status, text: answer } = await sendFrom(
      url,
      method,
      this.headers,
      text,
      this.options.localAddress,
    );
    let parsed: unknown = null;
    try {
      parsed = JSON.parse(answer);
    } catch {
      parsed = null;
    }
    return { status, body: parsed };
  }

  /** POST updateUrl with the info object; reads the answer like the plugin (§3). */
  async checkForUpdate(): Promise<UpdateCheck> {
    const url = this.options.updateUrl ?? `${this.base}/updates`;
    const { status, body } = await this.requestJson(url, 'POST', this.infoObject());
    const object =
      typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
    const noInstall = 'error' in object || 'kind' in object;
    if (noInstall || status < 200 || status >= 300) {
      return {
        status,
        body: object,
        available: false,
        kind: normalizeKind(object.kind),
        error: typeof object.error === 'string' ? object.error : 'response_error',
      };
    }
    const available = typeof object.version === 'string' && typeof object.url === 'string';
    return { status, body: object, available, kind: null, error: null };
  }

  /** One stat event (§5): the info object plus action, bundle names and a timestamp. */
  statEvent(action: string, versionName: string, oldVersionName = ''): StatEventBody {
    return {
      ...this.infoObject(),
      action,
      version_name: versionName,
      old_version_name: oldVersionName,
      timestamp: Date.now(),
    };
  }

  /** POSTs a batch (JSON array, §5) to statsUrl; returns the HTTP status and the parsed answer. */
  async sendStats(events: StatEventBody[]): Promise<{ status: number; body: unknown }> {
    const url = this.options.statsUrl ?? `${this.base}/stats`;
    const { status, body } = await this.requestJson(url, 'POST', events);
    this.sentStats.push({ status, events });
    return { status, body };
  }

  /**
   * The whole auto-update round: check, download, verify, install, report (see the module comment).
   */
  async update(): Promise<UpdateOutcome> {
    const check = await this.checkForUpdate();
    if (!check.available) {
      if (check.kind === 'failed') {
        await this.sendStats([this.statEvent('download_fail', this.versionName)]);
      }
      return {
        result: 'no_update',
        kind: check.kind ?? 'failed',
        error: check.error ?? 'no_version',
        message: typeof check.body.message === 'string' ? check.body.message : '',
      };
    }
    const version = check.body.version as string;
    if (version === this.versionName) {
      return { result: 'no_update', kind: 'up_to_date', error: 'same_version', message: '' };
    }
    return this.downloadAndInstall(check.body, version);
  }

  /**
   * Downloads, decrypts and checks a bundle with the device's own steps, then runs it: what the
   * plugin does with an `/updates` answer, or with `download()` from the device guard.
   */
  async downloadAndInstall(
    answer: Record<string, unknown>,
    version: string,
  ): Promise<UpdateOutcome> {
    const sessionKey = typeof answer.session_key === 'string' ? answer.session_key : '';
    const checksum = typeof answer.checksum === 'string' ? answer.checksum : '';
    const failed = async (stat: string, message: string): Promise<UpdateOutcome> => {
      await this.sendStats([this.statEvent(stat, version)]);
      return { result: 'failed', stat, message };
    };
    const publicKeyPem = this.options.publicKeyPem;
    if (publicKeyPem !== undefined && checksum === '') {
      return failed('checksum_required', 'The server sent no checksum.');
    }
    if (publicKeyPem === undefined || sessionKey === '') {
      // Airlock bundles are always encrypted; a plain bundle is not something this server sends.
      return failed('decrypt_fail', 'No session key or no public key: cannot open the bundle.');
    }
    const response = await fetch(answer.url as string, { headers: this.headers });
    if (response.status !== 200) return failed('download_fail', `HTTP ${response.status}`);
    const scratch = await mkdtemp(join(tmpdir(), 'airlock-device-sim-'));
    try {
      const encPath = join(scratch, 'bundle.enc');
      await writeFile(encPath, Buffer.from(await response.arrayBuffer()));
      const verified = await verifyEncryptedBundle(encPath, { publicKeyPem, sessionKey, checksum });
      const previous = this.versionName;
      this.versionName = version;
      await this.sendStats([
        this.statEvent('download_complete', version, previous),
        this.statEvent('set', version, previous),
      ]);
      return { result: 'installed', version, files: verified.files };
    } catch (error) {
      const { code = '', message = '' } = error as { code?: string; message?: string };
      return failed(failureStat(code, message), message);
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  }

  /**
   * The new bundle did not call notifyAppReady in time: the plugin rolls back to the previous bundle
   * and reports `update_fail` for the broken one (`app_crash` for a crash).
   */
  async reportBroken(action: 'update_fail' | 'app_crash' = 'update_fail'): Promise<number> {
    const broken = this.versionName;
    return (await this.sendStats([this.statEvent(action, broken)])).status;
  }

  private get channelUrl(): string {
    return this.options.channelUrl ?? `${this.base}/channel_self`;
  }

  /** setChannel (§4): POST; on success the plugin keeps the channel as its defaultChannel. */
  async setChannel(channel: string): Promise<{ status: number; body: Record<string, unknown> }> {
    const { status, body } = await this.requestJson(this.channelUrl, 'POST', {
      ...this.infoObject(),
      channel,
    });
    const object = (body ?? {}) as Record<string, unknown>;
    if (!('error' in object)) {
      this.defaultChannel = object.unset === true ? this.configChannel : channel;
    }
    return { status, body: object };
  }

  /** getChannel (§4): PUT; Android falls back to its local channel on a 400 channel_not_found. */
  async getChannel(): Promise<{ status: number; body: Record<string, unknown> }> {
    const { status, body } = await this.requestJson(this.channelUrl, 'PUT', this.infoObject());
    const object = (body ?? {}) as Record<string, unknown>;
    if (status === 400 && object.error === 'channel_not_found' && this.defaultChannel) {
      return { status, body: { channel: this.defaultChannel, status: 'default' } };
    }
    if (typeof object.channel === 'string' && object.channel.trim() !== '') {
      this.defaultChannel = object.channel.trim();
    }
    return { status, body: object };
  }

  /** listChannels (§4): GET with the info object as the query string (booleans as "true"/"false"). */
  async listChannels(): Promise<{ status: number; body: unknown }> {
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(this.infoObject())) query.set(key, String(value));
    const { status, body } = await this.requestJson(
      `${this.channelUrl}?${query.toString()}`,
      'GET',
    );
    if (status === 200 && Array.isArray(body)) {
      // CapgoUpdater.parseListChannelsResponse: a non-number id is a parse error.
      for (const entry of body as Record<string, unknown>[]) {
        if (typeof entry.id !== 'number') throw new Error('Channel id must be a number');
      }
    }
    return { status, body };
  }
}

/** One HTTP request from `localAddress` (node:http: fetch cannot choose its source address). */
function sendFrom(
  url: string,
  method: string,
  headers: Record<string, string>,
  body: string | undefined,
  localAddress: string | undefined,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      {
        method,
        headers:
          body === undefined ? headers : { ...headers, 'content-length': Buffer.byteLength(body) },
        ...(localAddress === undefined ? {} : { localAddress }),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * `count` lowercase UUIDs derived from `seed` (SHA-256 per index): the same devices on every run,
 * so a cohort test that fails can be replayed.
 * @example seededDeviceIds('rollout', 3)[0] // '1f0c…-…'
 */
export function seededDeviceIds(seed: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => {
    const hex = createHash('sha256').update(`${seed}:${i}`).digest('hex');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
  });
}

/**
 * Runs `fn` over `items` with at most `concurrency` in flight; results in input order.
 * @example await mapLimit(ids, 32, (id) => new DeviceSim({ ...opts, deviceId: id }).checkForUpdate());
 */
export async function mapLimit<T, R>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  async function worker(): Promise<void> {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index] as T, index);
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}

// ---------------------------------------------------------------------------------------------
// The other side: releasing to a test server the way two people do (ARCHITECTURE.md §3, §6)

/** What a release needs of an encrypted bundle: the fields `airlock bundle encrypt` prints. */
export type BundleInfo = BundleRef;

/**
 * A TEST-ONLY encrypted bundle: `files` (default: a small web build stamped with `label`) zipped
 * and encrypted with `signer`, written under `dir`.
 */
export async function makeEncryptedBundle(
  dir: string,
  signer: RsaPrivateSigner,
  label: string,
  files?: Record<string, string | Uint8Array>,
): Promise<{ path: string; info: BundleInfo }> {
  const web = join(dir, `web-${label}`);
  const tree = files ?? {
    'index.html': `<!doctype html><title>${label}</title><script src="app.js"></script>`,
    'app.js': `export const build = ${JSON.stringify(label)};\n`,
  };
  for (const [name, content] of Object.entries(tree)) {
    await mkdir(dirname(join(web, name)), { recursive: true });
    await writeFile(join(web, name), content);
  }
  await buildBundle(web, join(dir, `${label}.zip`));
  const path = join(dir, `${label}.enc`);
  const info = await encryptBundle(join(dir, `${label}.zip`), path, signer);
  return { path, info };
}

export interface ReleaseOptions {
  readonly percent?: number;
  readonly minNativeVersion?: string;
}

export type StatementBody =
  | { kind: 'release'; release: ReleaseStatement['release'] }
  | { kind: 'rollout'; rollout: { percent: number } }
  | { kind: 'rollback'; target: string }
  | { kind: 'pause' }
  | { kind: 'resume' };

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Drives a test server's admin API with two TEST-ONLY identities: `proposer` proposes (and pushes),
 * `approver` approves, so every change carries a second person's approval (default policies).
 * @example
 *   const desk = new ReleaseDesk(server.url, alice, bob);
 *   await desk.createApp(APP, key.publicKeyPem, [{ name: 'production' }]);
 *   const id = await desk.release(APP, 'production', '1.0.0', bundle, { percent: 30 });
 */
export class ReleaseDesk {
  constructor(
    private readonly baseUrl: string | (() => string),
    readonly proposer: IdentitySigner,
    readonly approver: IdentitySigner,
    /** Where requests go when that is not `baseUrl` (signedFetch's `via`: one of several processes). */
    private readonly via?: string,
  ) {}

  private url(path: string): string {
    const base = typeof this.baseUrl === 'string' ? this.baseUrl : this.baseUrl();
    return `${base.replace(/\/+$/, '')}/api/v1${path}`;
  }

  /** A signed admin call; throws with the server's answer unless it is 2xx. */
  async call(method: string, path: string, body?: object | Uint8Array): Promise<unknown> {
    const response = await signedFetch(this.url(path), {
      method,
      signer: this.proposer,
      ...(body === undefined ? {} : { body }),
      ...(this.via === undefined ? {} : { via: this.via }),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${path} → ${response.status}: ${text}`);
    return text === '' ? null : (JSON.parse(text) as unknown);
  }

  async createApp(
    app: string,
    bundlePublicKey: string,
    channels: readonly {
      name: string;
      settings?: Partial<ChannelSettingsInput>;
      bundlePublicKey?: string;
    }[],
  ): Promise<void> {
    await this.call('POST', '/apps', { app, bundlePublicKey, channels });
  }

  async uploadBundle(bundle: { path: string; info: BundleInfo }): Promise<void> {
    const bytes = new Uint8Array(await readFile(bundle.path));
    await this.call('PUT', `/bundles/${bundle.info.encryptedSha256}`, bytes);
  }

  async channelStatus(app: string, channel: string): Promise<ChannelStatus> {
    return (await this.call('GET', `/apps/${app}/channels/${channel}`)) as ChannelStatus;
  }

  /** Proposes, approves (second person) and pushes one statement; returns its id. */
  async apply(app: string, channel: string, body: StatementBody): Promise<string> {
    const status = await this.channelStatus(app, channel);
    const now = Date.now();
    const statement = {
      v: 1,
      app,
      channel,
      seq: status.seq + 1,
      prev: status.head,
      createdAt: new Date(now - 1000).toISOString(),
      expiresAt: new Date(now + DAY_MS).toISOString(),
      proposer: this.proposer.keyId,
      ...body,
    } as Statement;
    const id = statementId(statement);
    await this.call('POST', '/statements', { statement, approvals: [] });
    const approval = await createApproval(statement, this.approver);
    await this.call('POST', `/statements/${id}/push`, { approvals: [approval] });
    return id;
  }

  /** Uploads the bundle (idempotent) and releases it. */
  async release(
    app: string,
    channel: string,
    version: string,
    bundle: { path: string; info: BundleInfo },
    options: ReleaseOptions = {},
  ): Promise<string> {
    await this.uploadBundle(bundle);
    return this.apply(app, channel, {
      kind: 'release',
      release: {
        version,
        minNativeVersion: options.minNativeVersion ?? '1.0.0',
        rollout: { percent: options.percent ?? 100 },
        bundle: bundle.info,
      },
    });
  }

  rollout(app: string, channel: string, percent: number): Promise<string> {
    return this.apply(app, channel, { kind: 'rollout', rollout: { percent } });
  }

  pause(app: string, channel: string): Promise<string> {
    return this.apply(app, channel, { kind: 'pause' });
  }

  resume(app: string, channel: string): Promise<string> {
    return this.apply(app, channel, { kind: 'resume' });
  }

  rollback(app: string, channel: string, target: string): Promise<string> {
    return this.apply(app, channel, { kind: 'rollback', target });
  }

  /** The public log of a channel (ARCHITECTURE.md §6). */
  async log(app: string, channel: string): Promise<LogPage> {
    const response = await fetch(this.url(`/apps/${app}/channels/${channel}/log?limit=1000`));
    return (await response.json()) as LogPage;
  }
}
