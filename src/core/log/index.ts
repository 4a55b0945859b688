export {
  CHECKPOINT_PREFIX,
  checkpointId,
  checkpointSigningBytes,
  signCheckpoint,
  verifyCheckpoint,
} from './checkpoint';
export {
  LOG_PROBLEMS,
  compareCheckpoints,
  serverKeyBytes,
  verifyLogEntries,
  verifyRootChain,
} from './verify';
export type {
  LogHead,
  LogProblem,
  RootChainResult,
  VerifyLogOptions,
  VerifyLogResult,
} from './verify';
export {
  buildTrustBundle,
  deviceSnippets,
  selfSigned,
  selfSignedRoot,
  verifyTrustBundle,
  type DeviceSnippets,
  type TrustBundleResult,
  type VerifiedTrust,
} from './trust-bundle';
