import { open, type FileHandle } from 'node:fs/promises';
import { posix } from 'node:path';
import { AirlockError } from '../errors';
import {
  CENTRAL_HEADER_SIGNATURE,
  CENTRAL_HEADER_SIZE,
  DATA_DESCRIPTOR_SIGNATURE,
  END_OF_CENTRAL_DIRECTORY_SIGNATURE,
  END_OF_CENTRAL_DIRECTORY_SIZE,
  FLAG_DATA_DESCRIPTOR,
  FLAG_ENCRYPTED,
  FLAG_UTF8,
  HOST_UNIX,
  LOCAL_HEADER_SIGNATURE,
  LOCAL_HEADER_SIZE,
  MAX_COMMENT_SIZE,
  METHOD_DEFLATED,
  METHOD_STORED,
  S_IFDIR,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  ZIP64_END_LOCATOR_SIGNATURE,
  ZIP64_END_LOCATOR_SIZE,
} from './zip-format';

/**
 * Reads a ZIP's central directory and applies the rules `@capgo/capacitor-updater` 8.51.x applies
 * when it unzips a bundle (PROTOCOL.md §3.3). Android reads the archive front to back with
 * `java.util.zip.ZipInputStream` (local headers); iOS reads the central directory with ZIPFoundation.
 * So besides listing the central directory, this checks that the local headers tell the same story
 * with nothing in between, so that both phones see the same entries. Everything here is
 * attacker-controlled input.
 */

/** General-purpose bit 6: strong encryption. */
const FLAG_STRONG_ENCRYPTION = 0x0040;
/** Host 19 is OS X; ZIPFoundation reads the UNIX mode for it as well. */
const HOST_OSX = 19;
/** A central directory larger than this is not a web bundle. */
const MAX_CENTRAL_DIRECTORY = 64 * 1024 * 1024;
/** Longest file name component on the phones' file systems (ext4/f2fs and APFS: 255 bytes). */
const MAX_SEGMENT_BYTES = 255;
const READ_WINDOW = 64 * 1024;
/** The flag bits that change how an entry is read: encryption, data descriptor, UTF-8 name. */
const COMPARED_FLAGS = FLAG_ENCRYPTED | FLAG_DATA_DESCRIPTOR | FLAG_STRONG_ENCRYPTION | FLAG_UTF8;

/** One entry of the central directory. */
export interface ZipEntryInfo {
  readonly name: string;
  readonly method: number;
  readonly flags: number;
  readonly crc32: number;
  readonly compressedSize: number;
  readonly uncompressedSize: number;
  readonly localHeaderOffset: number;
  /** The name ends with "/". */
  readonly isDirectory: boolean;
  /** The file type bits of the UNIX mode, when the archive was made on UNIX or OS X; else null. */
  readonly unixMode: number | null;
}

/** An archive's entries and where its central directory sits. */
export interface ZipDirectory {
  readonly entries: readonly ZipEntryInfo[];
  readonly size: number;
  readonly centralDirectoryOffset: number;
  readonly centralDirectorySize: number;
}

/** What {@link checkPluginPathRules} needs of an entry. */
export interface PathRuleEntry {
  readonly name: string;
  readonly isDirectory?: boolean;
  readonly unixMode?: number | null;
}

/** Where the phone will find index.html. */
export interface BundleLayout {
  /** Number of file (non-directory) entries. */
  readonly files: number;
  /** "" when index.html is at the root, else the single top-level folder with a trailing "/". */
  readonly root: string;
}

interface RawCentralEntry extends ZipEntryInfo {
  readonly nameBytes: Buffer;
}

function invalid(message: string): AirlockError<'ZIP_INVALID'> {
  return new AirlockError('ZIP_INVALID', message);
}

function rejected(name: string, why: string): AirlockError<'BUNDLE_PATH_REJECTED'> {
  return new AirlockError('BUNDLE_PATH_REJECTED', `The bundle entry "${name}" ${why}.`);
}

async function readAt(handle: FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await handle.read(buffer, filled, length - filled, position + filled);
    if (bytesRead === 0) throw invalid('The archive ends in the middle of a record.');
    filled += bytesRead;
  }
  return buffer;
}

/**
 * Reads small records through a 64 KiB window, so walking the local headers of many small entries
 * costs one read per window rather than two per entry.
 */
class WindowReader {
  private start = 0;
  private window: Buffer = Buffer.alloc(0);

  constructor(
    private readonly handle: FileHandle,
    private readonly fileSize: number,
  ) {}

  async read(position: number, length: number): Promise<Buffer> {
    const end = position + length;
    if (position < this.start || end > this.start + this.window.length) {
      if (length > READ_WINDOW || end > this.fileSize) return readAt(this.handle, position, length);
      this.start = position;
      this.window = await readAt(
        this.handle,
        position,
        Math.min(READ_WINDOW, this.fileSize - position),
      );
    }
    return this.window.subarray(position - this.start, end - this.start);
  }
}

/** APPNOTE 4.3.16: the EOCD is the last record; it may be followed by a comment of ≤ 65535 bytes. */
async function findEndOfCentralDirectory(handle: FileHandle, size: number): Promise<number> {
  if (size < END_OF_CENTRAL_DIRECTORY_SIZE) throw invalid('The file is too short to be a ZIP.');
  const tailSize = Math.min(size, MAX_COMMENT_SIZE + END_OF_CENTRAL_DIRECTORY_SIZE);
  const tail = await readAt(handle, size - tailSize, tailSize);
  for (let i = tail.length - END_OF_CENTRAL_DIRECTORY_SIZE; i >= 0; i -= 1) {
    if (tail.readUInt32LE(i) !== END_OF_CENTRAL_DIRECTORY_SIGNATURE) continue;
    const commentLength = tail.readUInt16LE(i + 20);
    if (i + END_OF_CENTRAL_DIRECTORY_SIZE + commentLength === tail.length) {
      return size - tailSize + i;
    }
  }
  throw invalid('The file is not a ZIP archive (no end of central directory record).');
}

interface EndRecord {
  readonly entries: number;
  readonly centralDirectorySize: number;
  readonly centralDirectoryOffset: number;
}

async function readEndRecord(handle: FileHandle, eocd: number): Promise<EndRecord> {
  const record = await readAt(handle, eocd, END_OF_CENTRAL_DIRECTORY_SIZE);
  const disk = record.readUInt16LE(4);
  const cdDisk = record.readUInt16LE(6);
  const entriesOnDisk = record.readUInt16LE(8);
  const entries = record.readUInt16LE(10);
  const centralDirectorySize = record.readUInt32LE(12);
  const centralDirectoryOffset = record.readUInt32LE(16);
  const zip64Marker =
    entries === 0xffff ||
    centralDirectorySize === 0xffffffff ||
    centralDirectoryOffset === 0xffffffff;
  if (zip64Marker || (await hasZip64Locator(handle, eocd))) {
    throw invalid('Zip64 archives are not supported: phones and Airlock read ZIP32 only.');
  }
  if (disk !== 0 || cdDisk !== 0 || entriesOnDisk !== entries) {
    throw invalid('Multi-disk (split) archives are not supported.');
  }
  if (centralDirectoryOffset + centralDirectorySize !== eocd) {
    throw invalid('The central directory does not end where the end record begins.');
  }
  if (centralDirectorySize > MAX_CENTRAL_DIRECTORY)
    throw invalid('The central directory is too large.');
  return { entries, centralDirectorySize, centralDirectoryOffset };
}

async function hasZip64Locator(handle: FileHandle, eocd: number): Promise<boolean> {
  if (eocd < ZIP64_END_LOCATOR_SIZE) return false;
  const locator = await readAt(handle, eocd - ZIP64_END_LOCATOR_SIZE, 4);
  return locator.readUInt32LE(0) === ZIP64_END_LOCATOR_SIGNATURE;
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Android's ZipInputStream decodes every name as UTF-8; ZIPFoundation uses UTF-8 only when bit 11 is
 * set and CP437 otherwise. A non-ASCII name without bit 11 would get two different names.
 */
function decodeName(bytes: Buffer, flags: number): string {
  const ascii = bytes.every((byte) => byte < 0x80);
  if (!ascii && (flags & FLAG_UTF8) === 0) {
    throw invalid('An entry has a non-ASCII name that is not marked as UTF-8 (flag bit 11).');
  }
  try {
    return UTF8.decode(bytes);
  } catch {
    throw invalid('An entry name is not valid UTF-8.');
  }
}

function unixModeOf(versionMadeBy: number, externalAttributes: number): number | null {
  const host = versionMadeBy >> 8;
  if (host !== HOST_UNIX && host !== HOST_OSX) return null;
  return (externalAttributes >>> 16) & S_IFMT;
}

function checkEntryRecord(entry: RawCentralEntry): void {
  if ((entry.flags & (FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTION)) !== 0) {
    throw invalid(
      `The entry "${entry.name}" is encrypted with ZIP encryption; phones cannot read it.`,
    );
  }
  if (entry.method !== METHOD_STORED && entry.method !== METHOD_DEFLATED) {
    // ZipInputStream supports only stored and deflated entries.
    throw invalid(`The entry "${entry.name}" uses compression method ${entry.method}.`);
  }
  if (entry.method === METHOD_STORED && entry.compressedSize !== entry.uncompressedSize) {
    throw invalid(`The stored entry "${entry.name}" has two different sizes.`);
  }
  if (entry.compressedSize === 0xffffffff || entry.uncompressedSize === 0xffffffff) {
    throw invalid('Zip64 archives are not supported: phones and Airlock read ZIP32 only.');
  }
}

function parseCentralEntry(cd: Buffer, at: number): { entry: RawCentralEntry; next: number } {
  if (at + CENTRAL_HEADER_SIZE > cd.length || cd.readUInt32LE(at) !== CENTRAL_HEADER_SIGNATURE) {
    throw invalid('The central directory is damaged.');
  }
  const versionMadeBy = cd.readUInt16LE(at + 4);
  const flags = cd.readUInt16LE(at + 8);
  const nameLength = cd.readUInt16LE(at + 28);
  const next =
    at + CENTRAL_HEADER_SIZE + nameLength + cd.readUInt16LE(at + 30) + cd.readUInt16LE(at + 32);
  if (next > cd.length) throw invalid('The central directory is damaged.');
  const nameBytes = cd.subarray(at + CENTRAL_HEADER_SIZE, at + CENTRAL_HEADER_SIZE + nameLength);
  const name = decodeName(nameBytes, flags);
  const entry: RawCentralEntry = {
    name,
    nameBytes,
    method: cd.readUInt16LE(at + 10),
    flags,
    crc32: cd.readUInt32LE(at + 16),
    compressedSize: cd.readUInt32LE(at + 20),
    uncompressedSize: cd.readUInt32LE(at + 24),
    localHeaderOffset: cd.readUInt32LE(at + 42),
    isDirectory: name.endsWith('/'),
    unixMode: unixModeOf(versionMadeBy, cd.readUInt32LE(at + 38)),
  };
  checkEntryRecord(entry);
  return { entry, next };
}

function parseCentralDirectory(cd: Buffer, expected: number): RawCentralEntry[] {
  const entries: RawCentralEntry[] = [];
  let at = 0;
  while (at < cd.length) {
    const { entry, next } = parseCentralEntry(cd, at);
    entries.push(entry);
    at = next;
  }
  if (entries.length !== expected) {
    throw invalid(
      `The central directory lists ${entries.length} entries, the end record ${expected}.`,
    );
  }
  return entries;
}

/** Where the next local header must start after `entry`, per its own local header. */
async function checkLocalHeader(reader: WindowReader, entry: RawCentralEntry): Promise<number> {
  const at = entry.localHeaderOffset;
  const header = await reader.read(at, LOCAL_HEADER_SIZE);
  if (header.readUInt32LE(0) !== LOCAL_HEADER_SIGNATURE) {
    throw invalid(`The local header of "${entry.name}" is missing.`);
  }
  const flags = header.readUInt16LE(6);
  const nameLength = header.readUInt16LE(26);
  const extraLength = header.readUInt16LE(28);
  const name = await reader.read(at + LOCAL_HEADER_SIZE, nameLength);
  const mismatch =
    !name.equals(entry.nameBytes) ||
    (flags & COMPARED_FLAGS) !== (entry.flags & COMPARED_FLAGS) ||
    header.readUInt16LE(8) !== entry.method ||
    ((flags & FLAG_DATA_DESCRIPTOR) === 0 && !localSizesMatch(header, entry));
  if (mismatch) {
    // Android reads local headers, iOS the central directory: they must agree.
    throw invalid(`The local and central headers of "${entry.name}" disagree.`);
  }
  const dataEnd = at + LOCAL_HEADER_SIZE + nameLength + extraLength + entry.compressedSize;
  if ((flags & FLAG_DATA_DESCRIPTOR) === 0) return dataEnd;
  if (entry.method === METHOD_STORED) {
    // ZipInputStream: "only DEFLATED entries can have EXT descriptor".
    throw invalid(`The stored entry "${entry.name}" uses a data descriptor.`);
  }
  const descriptor = await reader.read(dataEnd, 4);
  return dataEnd + (descriptor.readUInt32LE(0) === DATA_DESCRIPTOR_SIGNATURE ? 16 : 12);
}

function localSizesMatch(header: Buffer, entry: RawCentralEntry): boolean {
  return (
    header.readUInt32LE(14) === entry.crc32 &&
    header.readUInt32LE(18) === entry.compressedSize &&
    header.readUInt32LE(22) === entry.uncompressedSize
  );
}

/**
 * The entries must follow each other from byte 0 to the central directory with nothing in between:
 * a streaming reader (Android) then sees exactly the entries the central directory lists (iOS).
 */
async function checkLocalLayout(
  reader: WindowReader,
  entries: readonly RawCentralEntry[],
  centralDirectoryOffset: number,
): Promise<void> {
  const byOffset = [...entries].sort((a, b) => a.localHeaderOffset - b.localHeaderOffset);
  let expected = 0;
  for (const entry of byOffset) {
    if (entry.localHeaderOffset !== expected) {
      throw invalid(`There are unlisted or overlapping bytes before the entry "${entry.name}".`);
    }
    expected = await checkLocalHeader(reader, entry);
  }
  if (expected !== centralDirectoryOffset) {
    throw invalid('There are unlisted bytes between the last entry and the central directory.');
  }
}

function publicEntry(entry: RawCentralEntry): ZipEntryInfo {
  const { nameBytes: _nameBytes, ...info } = entry;
  return info;
}

/**
 * Reads the central directory of the ZIP at `zipPath` and checks that its local headers agree with
 * it. Does not decompress anything.
 *
 * @throws AirlockError ZIP_INVALID for anything that is not a plain ZIP32 archive both phones read
 *   the same way (Zip64, encryption, methods other than stored/deflated, gaps, disagreeing headers);
 *   IO_ERROR when the file cannot be read.
 * @example const { entries } = await readZipDirectory('bundle.zip');
 */
export async function readZipDirectory(zipPath: string): Promise<ZipDirectory> {
  let handle: FileHandle;
  try {
    handle = await open(zipPath, 'r');
  } catch (error) {
    throw new AirlockError('IO_ERROR', `Cannot read ${zipPath}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  try {
    const { size } = await handle.stat();
    const end = await readEndRecord(handle, await findEndOfCentralDirectory(handle, size));
    const cd = await readAt(handle, end.centralDirectoryOffset, end.centralDirectorySize);
    const entries = parseCentralDirectory(cd, end.entries);
    await checkLocalLayout(new WindowReader(handle, size), entries, end.centralDirectoryOffset);
    return {
      entries: entries.map(publicEntry),
      size,
      centralDirectoryOffset: end.centralDirectoryOffset,
      centralDirectorySize: end.centralDirectorySize,
    };
  } finally {
    await handle.close();
  }
}

/**
 * Lists the entries of the ZIP at `zipPath` (see {@link readZipDirectory}).
 * @example (await readZipEntries('bundle.zip')).map((e) => e.name)
 */
export async function readZipEntries(zipPath: string): Promise<readonly ZipEntryInfo[]> {
  return (await readZipDirectory(zipPath)).entries;
}

/**
 * One entry name, as the plugin's `resolvePathInsideDirectory` checks it before extracting
 * (CapgoUpdater.java and CapgoUpdater.swift, 8.51.x; PROTOCOL.md §3.3).
 *
 * @throws AirlockError BUNDLE_PATH_REJECTED naming the entry and the rule.
 * @example checkEntryName('assets/app.js'); // ok
 */
export function checkEntryName(name: string): void {
  if (name.length === 0) throw rejected(name, 'has an empty name (canonical_path_fail)');
  if (name.includes('\\') || name.includes('\0')) {
    // Both platforms: a backslash or NUL → stat "windows_path_fail".
    throw rejected(name, 'contains a backslash or NUL, which phones refuse (windows_path_fail)');
  }
  const segments = name.split('/');
  if (segments.includes('..')) {
    // containsPathTraversalSegment: any ".." segment, even one that stays inside → canonical_path_fail.
    throw rejected(name, 'contains a ".." segment (canonical_path_fail)');
  }
  if (name.startsWith('/') || name.startsWith('~')) {
    // Java File.isAbsolute ("/…"); NSString.isAbsolutePath also treats "~…" as absolute.
    throw rejected(name, 'is an absolute path (canonical_path_fail)');
  }
  const normalized = posix.normalize(name).replace(/\/+$/, '');
  if (normalized === '.' || normalized === '') {
    // "Require a strict child of the base": "." or "./" would be the bundle folder itself.
    throw rejected(name, 'resolves to the bundle folder itself (canonical_path_fail)');
  }
  if (segments.some((segment) => Buffer.byteLength(segment) > MAX_SEGMENT_BYTES)) {
    throw rejected(name, `has a path component longer than ${MAX_SEGMENT_BYTES} bytes`);
  }
}

/**
 * With a UNIX mode, ZIPFoundation (iOS) extracts by the mode (a symlink becomes a symlink) while
 * ZipInputStream (Android) goes by the trailing "/" and writes everything else as a file.
 */
function checkEntryType(entry: PathRuleEntry): void {
  const mode = entry.unixMode ?? 0;
  const isDirectory = entry.isDirectory ?? entry.name.endsWith('/');
  if (mode === S_IFLNK) {
    throw new AirlockError(
      'BUNDLE_SPECIAL_FILE',
      `The bundle entry "${entry.name}" is a symbolic link; iOS would create a link, Android a file.`,
    );
  }
  if (mode !== 0 && mode !== S_IFREG && mode !== S_IFDIR) {
    throw new AirlockError(
      'BUNDLE_SPECIAL_FILE',
      `The bundle entry "${entry.name}" is a special file.`,
    );
  }
  if ((mode === S_IFDIR && !isDirectory) || (mode === S_IFREG && isDirectory)) {
    throw invalid(
      `The entry "${entry.name}" is a folder by its mode and a file by its name, or the reverse.`,
    );
  }
}

/**
 * The plugin's unzip rules for a whole bundle (PROTOCOL.md §3.3): every name passes
 * {@link checkEntryName}; no name appears twice; and `index.html` is at the root, or the archive has
 * exactly one top-level folder holding `index.html` (Android `flattenAssets`, iOS `unflatFolder`;
 * iOS counts hidden entries too, so a stray ".DS_Store" beside the folder breaks the flattening).
 *
 * @throws AirlockError BUNDLE_PATH_REJECTED, BUNDLE_SPECIAL_FILE, ZIP_INVALID (duplicates,
 *   ambiguous types), BUNDLE_EMPTY (no files), BUNDLE_NO_INDEX.
 * @example checkPluginPathRules([{ name: 'www/index.html' }]) // { files: 1, root: 'www/' }
 */
export function checkPluginPathRules(entries: readonly PathRuleEntry[]): BundleLayout {
  const seen = new Set<string>();
  const files = new Set<string>();
  const topLevel = new Set<string>();
  for (const entry of entries) {
    checkEntryName(entry.name);
    checkEntryType(entry);
    const normalized = posix.normalize(entry.name).replace(/\/+$/, '');
    if (seen.has(normalized)) throw invalid(`The entry "${entry.name}" appears more than once.`);
    seen.add(normalized);
    topLevel.add(normalized.split('/')[0] ?? normalized);
    if (!(entry.isDirectory ?? entry.name.endsWith('/'))) files.add(normalized);
  }
  if (files.size === 0) throw new AirlockError('BUNDLE_EMPTY', 'The bundle contains no files.');
  if (files.has('index.html')) return { files: files.size, root: '' };
  const [only] = topLevel;
  if (topLevel.size === 1 && only !== undefined && files.has(`${only}/index.html`)) {
    return { files: files.size, root: `${only}/` };
  }
  throw new AirlockError(
    'BUNDLE_NO_INDEX',
    topLevel.size === 1
      ? `The bundle has no index.html at its root or in its only folder "${only}".`
      : `The bundle has no index.html at its root, and ${topLevel.size} top-level entries instead of one folder holding it.`,
  );
}
