/**
 * Bundles: deterministic ZIP building, the plugin's unzip rules, and Capgo "encryption v2"
 * (PROTOCOL.md §3.3, §7). Pure library code: node built-ins and src/shared only.
 */
export {
  buildBundle,
  type BundleBuildOptions,
  type BundleBuildProgress,
  type BundleBuildResult,
} from './build';
export {
  calcKeyId,
  encryptBundle,
  openChecksum,
  parseCapgoPublicKey,
  rsaPublicDecrypt,
  rsaSignerFromPrivateKey,
  unwrapSessionKey,
  verifyEncryptedBundle,
  type EncryptedSource,
  type DecryptProgress,
  type EncryptBundleOptions,
  type EncryptedBundleInfo,
  type EncryptProgress,
  type RsaPrivateSigner,
  type VerifiedBundle,
  type VerifyEncryptedBundleInput,
} from './capgo-crypto';
export {
  bundleFileList,
  diffFileLists,
  fileListOf,
  fileListSha256,
  type BundleFile,
  type FileListDiff,
} from './file-list';
export {
  detectNativeContent,
  detectNativeName,
  refuseNativeContent,
  refuseNativeName,
} from './native-code';
export { DEFAULT_BUNDLE_LIMITS, inspectBundleZip, type BundleLimits } from './zip-inspect';
export {
  checkEntryName,
  checkPluginPathRules,
  readZipDirectory,
  readZipEntries,
  type BundleLayout,
  type PathRuleEntry,
  type ZipDirectory,
  type ZipEntryInfo,
} from './zip-reader';
export {
  writeZip,
  type ZipBufferSource,
  type ZipFileSource,
  type ZipSource,
  type ZipWriteOptions,
  type ZipWriteResult,
} from './zip-writer';
