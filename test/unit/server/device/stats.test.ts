import { describe, expect, it } from 'vitest';
import { parseStatEvent } from '../../../../src/server/device/stats';
import { STAT_ACTIONS, outcomeOf } from '../../../../src/server/device/stats-actions';

const EVENT = {
  platform: 'android',
  device_id: '6f1c2d3e-4a5b-4c6d-8e7f-0123456789ab',
  app_id: 'com.example.app',
  version_build: '1.0.0',
  version_os: '14',
  version_name: '1.4.2',
  old_version_name: 'builtin',
  action: 'set',
  timestamp: 1_790_000_000_000,
};

function codeOf(body: unknown): string {
  const parsed = parseStatEvent(body);
  return 'error' in parsed ? parsed.error : 'ok';
}

describe('#parseStatEvent', () => {
  it('keeps what is counted: app, channel hint, action and the bundle named', () => {
    expect(parseStatEvent({ ...EVENT, version_name: 'builtin' })).toEqual({
      appId: 'com.example.app',
      deviceId: EVENT.device_id,
      defaultChannel: undefined,
      action: 'set',
      versionName: 'builtin',
    });
  });

  it('rejects unknown actions and bad event fields (PROTOCOL.md §5)', () => {
    const cases: [unknown, string][] = [
      [{ ...EVENT, action: 'drop_tables' }, 'unknown_action'],
      [{ ...EVENT, action: 42 }, 'unknown_action'],
      [{ ...EVENT, action: undefined }, 'missing_action'],
      [{ ...EVENT, timestamp: 'now' }, 'invalid_timestamp'],
      [{ ...EVENT, old_version_name: 7 }, 'invalid_old_version_name'],
      [{ ...EVENT, metadata: [] }, 'invalid_metadata'],
      [{ ...EVENT, metadata: { a: 1 } }, 'invalid_metadata'],
      [
        {
          ...EVENT,
          metadata: Object.fromEntries(Array.from({ length: 31 }, (_, i) => [`k${i}`, 'v'])),
        },
        'invalid_metadata',
      ],
      [{ ...EVENT, device_id: 'nope' }, 'invalid_device_id'],
    ];
    for (const [body, code] of cases) expect(codeOf(body)).toBe(code);
  });

  it('accepts metadata within the backend limits', () => {
    expect(codeOf({ ...EVENT, metadata: { reason: 'x'.repeat(2048) } })).toBe('ok');
  });
});

describe('#outcomeOf', () => {
  it('counts set as success and bundle failures as failures', () => {
    expect(outcomeOf('set')).toBe('success');
    for (const action of [
      'update_fail',
      'download_fail',
      'checksum_fail',
      'decrypt_fail',
      'app_crash',
    ]) {
      expect(outcomeOf(action)).toBe('failure');
    }
  });

  it('leaves device conditions and progress neutral', () => {
    for (const action of [
      'low_mem_fail',
      'insufficient_disk_space',
      'download_50',
      'app_moved_to_background',
    ]) {
      expect(outcomeOf(action)).toBe('neutral');
    }
  });

  it('only classifies actions the plugin sends', () => {
    for (const action of ['set', 'update_fail', 'app_crash'])
      expect(STAT_ACTIONS.has(action)).toBe(true);
  });
});
