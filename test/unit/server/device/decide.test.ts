import { describe, expect, it } from 'vitest';
import { cohortBucket } from '../../../../src/core/channel';
import { NO_UPDATE, decideUpdate } from '../../../../src/server/device/decide';
import { parseDeviceInfo, type DeviceInfo } from '../../../../src/server/device/info';
import type {
  DeviceFacingChannel,
  DeviceFacingRelease,
} from '../../../../src/server/store/device-store';
import { ChannelSettingsSchema } from '../../../../src/shared/schemas/server-api';

/**
 * decideUpdate is a pure function of the device's info object and a channel view: these tests
 * build the view values it reads (the store's views have the same shape).
 */

const KEY_ID = 'MIIBCgKCAQEAqJikYizo';
const DEFAULT_SETTINGS = ChannelSettingsSchema.parse({});

/** A release view value; its bundle fields are placeholders (decideUpdate reads only keyId). */
function fakeRelease(
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
      keyId: KEY_ID,
      files: 3,
    },
    ...overrides,
  };
}

function info(overrides: Record<string, unknown> = {}): DeviceInfo {
  const parsed = parseDeviceInfo({
    platform: 'android',
    device_id: '6f1c2d3e-4a5b-4c6d-8e7f-0123456789ab',
    app_id: 'com.example.app',
    version_build: '1.0.0',
    version_name: 'builtin',
    key_id: KEY_ID,
    ...overrides,
  });
  if ('error' in parsed) throw new Error(parsed.message);
  return parsed;
}

function channel(overrides: Partial<DeviceFacingChannel> = {}): DeviceFacingChannel {
  return {
    app: 'com.example.app',
    channel: 'production',
    numericId: 1,
    settings: DEFAULT_SETTINGS,
    current: fakeRelease('1.4.2'),
    paused: false,
    rolledBack: false,
    releasedVersions: new Set<string>(),
    highestVersion: null,
    countingSince: 1,
    ...overrides,
  };
}

describe('#decideUpdate', () => {
  it('installs the current release on a device that runs an older bundle', () => {
    const decision = decideUpdate(info({ version_name: '1.4.1' }), channel());
    expect(decision.install).toBe(true);
  });

  it('installs on a device running its builtin bundle with an older native version', () => {
    expect(decideUpdate(info({ version_build: '1.0.0' }), channel()).install).toBe(true);
  });

  it('answers no_release on an empty channel', () => {
    expect(decideUpdate(info(), channel({ current: null }))).toBe(NO_UPDATE.noRelease);
  });

  it('answers no_new_version_available to a device already on the release', () => {
    expect(decideUpdate(info({ version_name: '1.4.2' }), channel())).toBe(NO_UPDATE.upToDate);
  });

  it('reads builtin as version_build (PROTOCOL.md §2)', () => {
    expect(decideUpdate(info({ version_build: '1.4.2' }), channel())).toBe(NO_UPDATE.upToDate);
  });

  it('installs nothing new while paused', () => {
    const paused = channel({ paused: true });
    expect(decideUpdate(info({ version_name: '1.4.1' }), paused)).toBe(NO_UPDATE.paused);
    expect(NO_UPDATE.paused.install === false && NO_UPDATE.paused.answer.kind).toBe('up_to_date');
  });

  it('never downgrades a device that runs a newer bundle', () => {
    expect(decideUpdate(info({ version_name: '1.5.0' }), channel())).toBe(NO_UPDATE.upToDate);
  });

  it('never moves a builtin device with a newer native version down', () => {
    expect(decideUpdate(info({ version_build: '3.0.0' }), channel())).toBe(NO_UPDATE.upToDate);
    const rolledBack = channel({ rolledBack: true });
    expect(decideUpdate(info({ version_build: '3.0.0' }), rolledBack)).toBe(NO_UPDATE.upToDate);
  });

  it('moves a device on a newer bundle down after a rollback', () => {
    const rolledBack = channel({ rolledBack: true });
    expect(decideUpdate(info({ version_name: '1.5.0' }), rolledBack).install).toBe(true);
  });

  it('blocks devices under minNativeVersion', () => {
    const release = fakeRelease('1.4.2', { minNativeVersion: '2.1.0' });
    const decision = decideUpdate(info({ version_name: '1.4.1' }), channel({ current: release }));
    expect(decision).toBe(NO_UPDATE.underNative);
    expect(decision.install === false && decision.answer.kind).toBe('blocked');
    const newer = info({ version_name: '1.4.1', version_build: '2.1.0' });
    expect(decideUpdate(newer, channel({ current: release })).install).toBe(true);
  });

  it('answers semver_error for a version_build without a number', () => {
    expect(decideUpdate(info({ version_build: 'dev', version_name: '1.0.0' }), channel())).toBe(
      NO_UPDATE.semverError,
    );
  });

  it('blocks a device holding another key, or none', () => {
    expect(decideUpdate(info({ key_id: 'MIIBCgKCAQEAzzzzzzzz' }), channel())).toBe(
      NO_UPDATE.keyIdMismatch,
    );
    expect(decideUpdate(info({ key_id: undefined }), channel())).toBe(NO_UPDATE.keyIdMismatch);
  });

  it('follows the rollout cohort, the same way every time', () => {
    const statementId = 'e'.repeat(64);
    const release = fakeRelease('1.4.2', { statementId, rolloutPercent: 30 });
    let installs = 0;
    for (let i = 0; i < 2000; i++) {
      const id = `6f1c2d3e-4a5b-4c6d-8e7f-${i.toString(16).padStart(12, '0')}`;
      const device = info({ device_id: id });
      const decision = decideUpdate(device, channel({ current: release }));
      expect(decision.install).toBe(cohortBucket(id, statementId) < 3000);
      expect(decideUpdate(device, channel({ current: release })).install).toBe(decision.install);
      if (decision.install) installs++;
    }
    expect(installs / 2000).toBeGreaterThan(0.25);
    expect(installs / 2000).toBeLessThan(0.35);
  });
});
