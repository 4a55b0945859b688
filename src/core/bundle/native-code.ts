/**
 * Store rules (ARCHITECTURE.md §3 "Store rules"): Apple App Review Guideline 2.5.2 and Google Play's Device and
 * Network Abuse policy allow over-the-air changes to interpreted web content only, never to
 * executable native code. A bundle is checked by name and by content, so that renaming a binary
 * does not get it through. WebAssembly is web content (it runs inside the WebView's sandbox) and is
 * allowed.
 */

import { AirlockError } from '../errors';

/** File names that are native code or native-code containers, by extension. */
const NATIVE_FILE_NAMES: readonly (readonly [RegExp, string])[] = [
  [/\.so(\.\d+)*$/i, 'a shared library (.so)'],
  [/\.dylib$/i, 'a dynamic library (.dylib)'],
  [/\.(jar|aar)$/i, 'a Java archive'],
  [/\.(dex|odex|vdex|oat)$/i, 'Android bytecode'],
  [/\.(apk|aab|xapk|apks)$/i, 'an Android app package'],
  [/\.ipa$/i, 'an iOS app package (.ipa)'],
  [/\.class$/i, 'a Java class file'],
  [/\.(exe|dll)$/i, 'a Windows executable'],
];

/** Folder names that hold native code. */
const NATIVE_FOLDER_NAMES: readonly (readonly [RegExp, string])[] = [
  [/\.(framework|xcframework)$/i, 'an Apple framework'],
];

/** How many leading bytes {@link detectNativeContent} needs at least (more helps for PE files). */
export const NATIVE_MAGIC_HEAD = 4096;

function startsWith(head: Uint8Array, magic: readonly number[]): boolean {
  return magic.every((byte, i) => head[i] === byte);
}

const MAGIC: readonly (readonly [readonly number[], string])[] = [
  [[0x7f, 0x45, 0x4c, 0x46], 'an ELF binary'],
  [[0xfe, 0xed, 0xfa, 0xce], 'a Mach-O binary'],
  [[0xfe, 0xed, 0xfa, 0xcf], 'a Mach-O binary'],
  [[0xce, 0xfa, 0xed, 0xfe], 'a Mach-O binary'],
  [[0xcf, 0xfa, 0xed, 0xfe], 'a Mach-O binary'],
  // 0xCAFEBABE is both the Mach-O universal ("fat") header and the Java class file magic: both are
  // code the stores forbid. 0xCAFEBABF is the 64-bit fat header.
  [[0xca, 0xfe, 0xba, 0xbe], 'a Mach-O universal binary or a Java class file'],
  [[0xca, 0xfe, 0xba, 0xbf], 'a Mach-O universal binary'],
  [[0x64, 0x65, 0x78, 0x0a], 'Android DEX bytecode'],
  [[0x64, 0x65, 0x79, 0x0a], 'Android optimized DEX bytecode'],
];

/** "MZ" alone is too common a text prefix; a PE file also has "PE\0\0" at the offset in 0x3C. */
function isPortableExecutable(head: Uint8Array): boolean {
  if (head.length < 0x40 || head[0] !== 0x4d || head[1] !== 0x5a) return false;
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const peOffset = view.getUint32(0x3c, true);
  return (
    peOffset + 4 <= head.length && startsWith(head.subarray(peOffset), [0x50, 0x45, 0x00, 0x00])
  );
}

/**
 * What kind of native code a file or folder name announces, or null.
 * @example detectNativeName('lib/arm64/libfoo.so', false) // 'a shared library (.so)'
 */
export function detectNativeName(path: string, isFolder: boolean): string | null {
  const base = path.slice(path.lastIndexOf('/') + 1);
  const table = isFolder ? NATIVE_FOLDER_NAMES : NATIVE_FILE_NAMES;
  return table.find(([pattern]) => pattern.test(base))?.[1] ?? null;
}

/**
 * What kind of native code the first bytes of a file are, or null. Pass at least
 * {@link NATIVE_MAGIC_HEAD} bytes when the file is that long.
 * @example detectNativeContent(Buffer.from('7f454c46', 'hex')) // 'an ELF binary'
 */
export function detectNativeContent(head: Uint8Array): string | null {
  const match = MAGIC.find(([magic]) => startsWith(head, magic));
  if (match) return match[1];
  return isPortableExecutable(head) ? 'a Windows PE executable' : null;
}

const STORE_RULE = 'app stores allow live updates of web content only (Apple 2.5.2, Google Play)';

/**
 * Refuses native code by name: the one check `bundle build` runs on a folder and the server runs on
 * every uploaded bundle's entries (ARCHITECTURE.md "Store rules").
 * @throws AirlockError BUNDLE_NATIVE_CODE naming the file and what it is.
 * @example refuseNativeName('lib/arm64-v8a/libevil.so', false) // throws
 */
export function refuseNativeName(name: string, isFolder: boolean): void {
  const kind = detectNativeName(name, isFolder);
  if (kind !== null) {
    throw new AirlockError('BUNDLE_NATIVE_CODE', `${name} is ${kind}; ${STORE_RULE}.`);
  }
}

/**
 * Refuses native code by content, whatever the file is called (see {@link refuseNativeName}).
 * @throws AirlockError BUNDLE_NATIVE_CODE.
 * @example refuseNativeContent('logo.png', elfBytes) // throws
 */
export function refuseNativeContent(name: string, head: Uint8Array): void {
  const kind = detectNativeContent(head);
  if (kind !== null) {
    throw new AirlockError('BUNDLE_NATIVE_CODE', `${name} contains ${kind}; ${STORE_RULE}.`);
  }
}
