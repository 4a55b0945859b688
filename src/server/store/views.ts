import type { DeviceFacingChannel } from './device-store';
import { ReleasedVersions } from './rules';
import type { AppSummary } from './types';

/** An app as the views hold it. */
export interface AppInfo {
  readonly bundlePublicKey: string | null;
  readonly bundleKeyId: string | null;
  /** In creation order: the first is the default channel. */
  readonly channels: string[];
}

/**
 * The memory every ServerStore backend answers device requests from (ARCHITECTURE.md §6, issue 15
 * item 2: "a synchronous in-memory device view, no query on the hot path"): apps, channel views,
 * bundle keys and which bundles may be served. A backend fills it from its database and swaps a
 * channel's view after each committed change; the reads here never do I/O.
 */
export abstract class InMemoryViews {
  protected readonly apps = new Map<string, AppInfo>();
  /** Channels with a bundle key of their own: app → channel → PEM. */
  private readonly channelKeys = new Map<string, Map<string, string>>();
  /**
   * Device views by app, then channel: two lookups of strings devices sent, with no key to build
   * (channel() runs on every /updates call).
   */
  private readonly views = new Map<string, Map<string, DeviceFacingChannel>>();
  /** Per channel id: what it released. */
  protected readonly released = new ReleasedVersions();
  /** Bundles named by a stored release statement (pending or applied). */
  protected readonly referenced = new Set<string>();
  /** Bundles whose contents passed the server's own checks. */
  protected readonly checked = new Set<string>();

  /** Records an app (no-op when known). */
  protected noteApp(app: string, bundlePublicKey: string | null, bundleKeyId: string | null): void {
    if (!this.apps.has(app)) this.apps.set(app, { bundlePublicKey, bundleKeyId, channels: [] });
  }

  /** Records a new channel of a known app, with its own bundle key if it has one. */
  protected noteChannel(app: string, name: string, bundlePublicKey: string | null): void {
    const info = this.apps.get(app);
    if (info === undefined || info.channels.includes(name)) return;
    info.channels.push(name);
    if (bundlePublicKey === null) return;
    let keys = this.channelKeys.get(app);
    if (keys === undefined) {
      keys = new Map();
      this.channelKeys.set(app, keys);
    }
    keys.set(name, bundlePublicKey);
  }

  /** Swaps in a channel's view. */
  protected setView(view: DeviceFacingChannel): void {
    let channels = this.views.get(view.app);
    if (channels === undefined) {
      channels = new Map();
      this.views.set(view.app, channels);
    }
    channels.set(view.channel, view);
  }

  appExists(app: string): boolean {
    return this.apps.has(app);
  }

  defaultChannel(app: string): string | null {
    return this.apps.get(app)?.channels[0] ?? null;
  }

  channel(app: string, channel: string): DeviceFacingChannel | null {
    return this.views.get(app)?.get(channel) ?? null;
  }

  channels(app: string): readonly DeviceFacingChannel[] {
    const names = this.apps.get(app)?.channels ?? [];
    const views = this.views.get(app);
    return names.flatMap((name) => views?.get(name) ?? []);
  }

  bundlePublicKey(app: string, channel: string): string | null {
    const own = this.channelKeys.get(app)?.get(channel);
    return own ?? this.apps.get(app)?.bundlePublicKey ?? null;
  }

  servable(encryptedSha256: string): boolean {
    // ARCHITECTURE.md "The server checks what it serves": named by a statement and checked.
    return this.referenced.has(encryptedSha256) && this.checked.has(encryptedSha256);
  }

  bundleChecked(encryptedSha256: string): boolean {
    return this.checked.has(encryptedSha256);
  }

  listApps(): Promise<AppSummary[]> {
    return Promise.resolve(
      [...this.apps.entries()]
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([app, info]) => ({
          app,
          bundleKeyId: info.bundleKeyId,
          defaultChannel: info.channels[0] ?? '',
          channels: [...info.channels],
        })),
    );
  }
}
