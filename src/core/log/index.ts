export {
  CHECKPOINT_PREFIX,
  checkpointId,
  checkpointSigningBytes,
  signCheckpoint,
  verifyCheckpoint,
} from './checkpoint';
