import { describe, expect, it } from 'vitest';
import { parseDeviceInfo } from '../../../../src/server/device/info';

const VALID = {
  platform: 'ios',
  device_id: '6F1C2D3E-4A5B-4C6D-8E7F-0123456789AB',
  app_id: 'com.example.app',
  version_build: '2.0.0',
  version_code: '20',
  version_os: '17.4',
  version_name: 'builtin',
  plugin_version: '8.51.14',
  is_emulator: false,
  is_prod: true,
  defaultChannel: 'beta',
  key_id: 'MIIBCgKCAQEAqJikYizo',
};

function codeOf(body: unknown): string {
  const parsed = parseDeviceInfo(body);
  return 'error' in parsed ? parsed.error : 'ok';
}

describe('#parseDeviceInfo', () => {
  it('normalizes a plugin info object (PROTOCOL.md §2)', () => {
    const parsed = parseDeviceInfo(VALID);
    expect(parsed).toMatchObject({
      deviceId: '6f1c2d3e-4a5b-4c6d-8e7f-0123456789ab',
      versionName: 'builtin',
      runningVersion: '2.0.0',
      onBuiltin: true,
      defaultChannel: 'beta',
      isProd: true,
    });
  });

  it('accepts the query-string form of booleans', () => {
    expect(parseDeviceInfo({ ...VALID, is_emulator: 'true' })).toMatchObject({ isEmulator: true });
  });

  it('ignores unknown fields and treats null as absent', () => {
    expect(codeOf({ ...VALID, future_field: [1, 2], custom_id: null })).toBe('ok');
  });

  it('drops a defaultChannel that cannot be a channel name', () => {
    expect(parseDeviceInfo({ ...VALID, defaultChannel: 'Not A Channel' })).toMatchObject({
      defaultChannel: undefined,
    });
  });

  it('names the missing or bad field', () => {
    const cases: [unknown, string][] = [
      [null, 'invalid_body'],
      [[VALID], 'invalid_body'],
      ['text', 'invalid_body'],
      [{ ...VALID, platform: undefined }, 'missing_platform'],
      [{ ...VALID, platform: 'windows' }, 'invalid_platform'],
      [{ ...VALID, device_id: 'not-a-uuid' }, 'invalid_device_id'],
      [{ ...VALID, device_id: 42 }, 'invalid_device_id'],
      [{ ...VALID, app_id: 'nodots' }, 'invalid_app_id'],
      [{ ...VALID, app_id: 'x'.repeat(300) }, 'invalid_app_id'],
      [{ ...VALID, version_build: '' }, 'missing_version_build'],
      [{ ...VALID, version_name: { a: 1 } }, 'invalid_version_name'],
      [{ ...VALID, key_id: 7 }, 'invalid_key_id'],
      [{ ...VALID, defaultChannel: ['beta'] }, 'invalid_defaultChannel'],
      [{ ...VALID, is_prod: 'yes' }, 'invalid_is_prod'],
      [{ ...VALID, version_os: 'x'.repeat(1000) }, 'invalid_version_os'],
    ];
    for (const [body, code] of cases) expect(codeOf(body)).toBe(code);
  });
});
