import type { ChannelSettings } from '../../../../src/shared/schemas/server-api';
import type {
  DeviceFacingChannel,
  DeviceFacingRelease,
  DeviceStore,
  StatsRow,
} from '../../../../src/server/store/device-store';
import { outcomeOf } from '../../../../src/server/device/stats-actions';

/**
 * An in-memory DeviceStore for unit tests of the device endpoints: channels are plain objects the
 * test replaces, like the real store replaces its views when a statement is applied.
 */

export const DEFAULT_SETTINGS: ChannelSettings = {
  allowSelfSet: false,
  public: true,
  autoPause: { failureThreshold: 0.2, minSamples: 50 },
};

export function fakeRelease(
  version: string,
  overrides: Partial<DeviceFacingRelease> = {},
): DeviceFacingRelease {
  const hex = (c: string): string => c.repeat(64);
  return {
    statementId: overrides.statementId ?? hex(version.replace(/\D/g, '').slice(-1) || 'a'),
    version,
    minNativeVersion: '1.0.0',
    rolloutPercent: 100,
    bundle: {
      sha256: hex('b'),
      size: 100,
      encryptedSha256: hex('c'),
      encryptedSize: 112,
      sessionKey: 'AAAAAAAAAAAAAAAAAAAAAA==:QkJCQg==',
      checksum: 'd'.repeat(512),
      keyId: 'MIIBCgKCAQEAqJikYizo',
      files: 3,
    },
    ...overrides,
  };
}

export class FakeStore implements DeviceStore {
  readonly apps = new Map<string, { keyId: string | null; channels: DeviceFacingChannel[] }>();
  readonly bundles = new Map<string, { path: string; size: number }>();
  readonly stats: StatsRow[] = [];
  readonly pauses: { app: string; channel: string; reason: string }[] = [];
  viewGeneration = 0;

  addApp(app: string, channels: string[], keyId: string | null = 'MIIBCgKCAQEAqJikYizo'): this {
    this.viewGeneration++;
    this.apps.set(app, {
      keyId,
      channels: channels.map((channel, index) => ({
        app,
        channel,
        numericId: index + 1,
        settings: DEFAULT_SETTINGS,
        current: null,
        paused: false,
        rolledBack: false,
        releasedVersions: new Set<string>(),
      })),
    });
    return this;
  }

  /**
   * Replaces a channel's view (as applying a statement does); a new current release joins the
   * released versions, as it does in the real store's log.
   */
  update(app: string, channel: string, patch: Partial<DeviceFacingChannel>): void {
    const entry = this.apps.get(app);
    if (!entry) throw new Error(`no app ${app}`);
    this.viewGeneration++;
    entry.channels = entry.channels.map((c) => {
      if (c.channel !== channel) return c;
      const next = { ...c, ...patch };
      const version = patch.current?.version;
      if (version === undefined || next.releasedVersions.has(version)) return next;
      return { ...next, releasedVersions: new Set([...next.releasedVersions, version]) };
    });
  }

  appExists(app: string): boolean {
    return this.apps.has(app);
  }
  bundleKeyId(app: string): string | null {
    return this.apps.get(app)?.keyId ?? null;
  }
  defaultChannel(app: string): string | null {
    return this.apps.get(app)?.channels[0]?.channel ?? null;
  }
  channel(app: string, channel: string): DeviceFacingChannel | null {
    return this.apps.get(app)?.channels.find((c) => c.channel === channel) ?? null;
  }
  channels(app: string): readonly DeviceFacingChannel[] {
    return this.apps.get(app)?.channels ?? [];
  }
  bundleFile(sha: string): { path: string; size: number } | null {
    return this.bundles.get(sha) ?? null;
  }
  addStats(rows: readonly StatsRow[]): void {
    this.stats.push(...rows);
  }
  outcomes(app: string, channel: string, version: string): { successes: number; failures: number } {
    let successes = 0;
    let failures = 0;
    for (const row of this.stats) {
      if (row.app !== app || row.channel !== channel || row.version !== version) continue;
      const outcome = outcomeOf(row.action);
      if (outcome === 'success') successes += row.count;
      if (outcome === 'failure') failures += row.count;
    }
    return { successes, failures };
  }
  applyAutomaticPause(app: string, channel: string, reason: string): boolean {
    const view = this.channel(app, channel);
    if (!view || view.paused || view.current === null) return false;
    this.pauses.push({ app, channel, reason });
    this.update(app, channel, { paused: true });
    return true;
  }
}
