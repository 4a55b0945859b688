import { describe, expect, it } from 'vitest';
import { HandedSet, releaseSalt } from '../../../../src/server/device/handed';
import { seededDeviceIds } from '../../../helpers/device-sim';

describe('HandedSet', () => {
  const release = releaseSalt('a1b2c3d4'.padEnd(64, '0'));
  const other = releaseSalt('0f0f0f0f'.padEnd(64, '1'));

  it('remembers which device was handed which release', () => {
    const handed = new HandedSet(1000);
    const [device = '', stranger = ''] = seededDeviceIds('handed', 2);
    handed.add(device, release);
    expect(handed.has(device, release)).toBe(true);
    expect(handed.has(device, other)).toBe(false);
    expect(handed.has(stranger, release)).toBe(false);
  });

  it('keeps at least the last perGeneration devices, in bounded memory', () => {
    const handed = new HandedSet(50_000);
    const ids = seededDeviceIds('handed-many', 200_000);
    for (const id of ids) handed.add(id, release);
    // Two generations of 50,000: the last 50,000 are all there, the oldest are forgotten.
    expect(ids.slice(-50_000).every((id) => handed.has(id, release))).toBe(true);
    expect(ids.slice(0, 1000).some((id) => handed.has(id, release))).toBe(false);
    expect(handed.rotations).toBeGreaterThanOrEqual(4);
    expect(handed.rotations).toBeLessThanOrEqual(5);
  });

  it('does not confuse devices: no false positive among 100,000 strangers', () => {
    const handed = new HandedSet(100_000);
    for (const id of seededDeviceIds('handed-in', 100_000)) handed.add(id, release);
    const strangers = seededDeviceIds('handed-out', 100_000);
    expect(strangers.filter((id) => handed.has(id, release))).toEqual([]);
  });
});
