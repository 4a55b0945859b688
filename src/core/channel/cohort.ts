import { sha256HexOf } from '../crypto/backend';

/**
 * Rollout cohorts (ARCHITECTURE.md §6): a device is in the cohort of a release when
 * `uint32be(sha256(device_id + ":" + statementId)[0..4]) mod 10000 < percent × 100`.
 * The bucket depends only on the device and the release statement, so the answer is sticky for a
 * release, and a rollout increase only adds devices (the buckets below the old bound stay in).
 */

/** Number of buckets: percent has a resolution of 0.01. */
export const COHORT_BUCKETS = 10_000;

/**
 * The device's bucket for a release, 0 ≤ bucket < 10000.
 * @example cohortBucket('0f8e…-uuid', statementId) // 4821
 */
export function cohortBucket(deviceId: string, statementId: string): number {
  // The backend's hex SHA-256 (node:crypto's one-shot hash under Node: this is the device hot path);
  // the first 8 hex digits are the first 4 bytes, read big-endian.
  const hex = sha256HexOf(`${deviceId}:${statementId}`);
  return Number.parseInt(hex.slice(0, 8), 16) % COHORT_BUCKETS;
}

/**
 * True when the device receives a release rolled out to `percent` (0 < percent ≤ 100).
 * @example inCohort(deviceId, statementId, 100) // true for every device
 */
export function inCohort(deviceId: string, statementId: string, percent: number): boolean {
  if (percent >= 100) return true;
  if (!(percent > 0)) return false;
  // Math.round: 12.34 % × 100 must be exactly 1234 buckets, not 1233.9999.
  return cohortBucket(deviceId, statementId) < Math.round(percent * 100);
}
