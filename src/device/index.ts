/**
 * `airlock/device`: the device guard for apps running `@capgo/capacitor-updater` in manual mode
 * (ARCHITECTURE.md §11). Browser-safe: no Node built-ins, no Electron; only platform-neutral core.
 */
export {
  GUARD_LIMITS,
  createGuard,
  type CheckResult,
  type Guard,
  type GuardOptions,
  type GuardStorage,
  type Updater,
} from './guard';
export { REFUSAL_CODES, type RefusalCode } from './refusal';
export { verifyTrustBundle, type VerifiedTrust } from './trust';
export type { TrustBundle, GuardState } from '../shared/schemas/device';
