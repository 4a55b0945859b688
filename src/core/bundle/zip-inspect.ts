import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { pipeline, type Readable } from 'node:stream';
import { createInflateRaw, crc32 } from 'node:zlib';
import { AirlockError } from '../errors';
import { NATIVE_MAGIC_HEAD, refuseNativeContent, refuseNativeName } from './native-code';
import { LOCAL_HEADER_SIZE, METHOD_STORED } from './zip-format';
import type { ZipDirectory, ZipEntryInfo } from './zip-reader';

/**
 * What the server checks inside every bundle before a release that names it becomes visible,
 * whoever built it (ARCHITECTURE.md "Store rules" and "The server checks what it serves"):
 *
 * 1. limits: at most `maxEntries` entries, at most `maxUncompressedBytes` in all once unpacked,
 *    and an archive-wide compression ratio of at most `maxCompressionRatio` (a zip bomb packs
 *    a gigabyte of zeros into a megabyte: ratio 1,000);
 * 2. the sizes and CRC-32 the headers declare are the sizes and CRC the data inflates to (an
 *    archive that lies about its sizes is refused while it inflates, never after): a phone's
 *    unzip would otherwise meet what the limits never saw;
 * 3. no native code, by name (every path segment) and by content (the first 4 KiB of every
 *    file), with the same functions `airlock bundle build` uses.
 *
 * The archive's structure (ZIP32, agreeing local and central headers, no gaps) is checked by
 * readZipDirectory first; every byte here is attacker-controlled.
 */

export interface BundleLimits {
  readonly maxEntries: number;
  readonly maxUncompressedBytes: number;
  /** Uncompressed bytes per byte of the archive, over the whole archive. */
  readonly maxCompressionRatio: number;
}

/** Defaults, each a setting of `airlock server start` (README "Bundle limits"). */
export const DEFAULT_BUNDLE_LIMITS: BundleLimits = {
  maxEntries: 10_000,
  maxUncompressedBytes: 512 * 1024 * 1024,
  maxCompressionRatio: 100,
};

function limitExceeded(message: string): AirlockError<'BUNDLE_LIMIT_EXCEEDED'> {
  return new AirlockError('BUNDLE_LIMIT_EXCEEDED', message);
}

function lies(name: string, what: string): AirlockError<'ZIP_INVALID'> {
  return new AirlockError('ZIP_INVALID', `The entry "${name}" ${what}.`);
}

/** Limit 1 on the headers alone: cheap, before any byte is inflated. */
function checkDeclared(directory: ZipDirectory, limits: BundleLimits): void {
  const { entries } = directory;
  if (entries.length > limits.maxEntries) {
    throw limitExceeded(
      `The bundle has ${entries.length} entries; the server accepts at most ${limits.maxEntries}.`,
    );
  }
  const total = entries.reduce((sum, entry) => sum + entry.uncompressedSize, 0);
  if (total > limits.maxUncompressedBytes) {
    throw limitExceeded(
      `The bundle unpacks to ${total} bytes; the server accepts at most ${limits.maxUncompressedBytes}.`,
    );
  }
  const ratio = total / Math.max(1, directory.size);
  if (ratio > limits.maxCompressionRatio) {
    throw limitExceeded(
      `The bundle unpacks to ${ratio.toFixed(0)} times its size; the server accepts a ratio of at most ${limits.maxCompressionRatio} (a zip bomb).`,
    );
  }
}

/** Rule 3 by name: the file and each folder above it. */
function checkNames(entry: ZipEntryInfo): void {
  const segments = entry.name.replace(/\/+$/, '').split('/');
  for (let i = 0; i < segments.length; i++) {
    const isFolder = entry.isDirectory || i < segments.length - 1;
    refuseNativeName(segments.slice(0, i + 1).join('/'), isFolder);
  }
}

/** Where an entry's data starts: after its local header, name and extra field. */
async function dataOffset(zipPath: string, entry: ZipEntryInfo): Promise<number> {
  const handle = await open(zipPath, 'r');
  try {
    const header = Buffer.alloc(LOCAL_HEADER_SIZE);
    await handle.read(header, 0, LOCAL_HEADER_SIZE, entry.localHeaderOffset);
    return (
      entry.localHeaderOffset +
      LOCAL_HEADER_SIZE +
      header.readUInt16LE(26) +
      header.readUInt16LE(28)
    );
  } finally {
    await handle.close();
  }
}

/**
 * Inflates one entry, stopping at the first byte past its declared size; checks its CRC-32 and
 * its first bytes for native code. Returns the bytes it inflated to.
 */
async function inflateEntry(zipPath: string, entry: ZipEntryInfo): Promise<number> {
  if (entry.compressedSize === 0) {
    // An empty file (stored); anything that claims content without data lies.
    if (entry.uncompressedSize !== 0 || entry.crc32 !== 0) throw lies(entry.name, 'has no data');
    return 0;
  }
  const start = await dataOffset(zipPath, entry);
  const raw = createReadStream(zipPath, {
    start,
    end: start + entry.compressedSize - 1,
    highWaterMark: 64 * 1024,
  });
  // pipeline: a read error ends the inflater too (with pipe() the loop below would wait forever).
  const data: Readable =
    entry.method === METHOD_STORED ? raw : pipeline(raw, createInflateRaw(), () => undefined);
  let size = 0;
  let crc = 0;
  let head = Buffer.alloc(0);
  try {
    for await (const chunk of data as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > entry.uncompressedSize) {
        throw lies(
          entry.name,
          `inflates to more than the ${entry.uncompressedSize} bytes it declares`,
        );
      }
      crc = crc32(chunk, crc);
      if (head.length < NATIVE_MAGIC_HEAD) {
        head = Buffer.concat([head, chunk.subarray(0, NATIVE_MAGIC_HEAD - head.length)]);
      }
    }
  } catch (error) {
    if (error instanceof AirlockError) throw error;
    throw lies(entry.name, 'is not valid deflate data');
  } finally {
    raw.destroy();
  }
  if (size !== entry.uncompressedSize) {
    throw lies(
      entry.name,
      `inflates to ${size} bytes, not the ${entry.uncompressedSize} it declares`,
    );
  }
  if (crc >>> 0 !== entry.crc32 >>> 0) throw lies(entry.name, 'does not match its CRC-32');
  refuseNativeContent(entry.name, head);
  return size;
}

/**
 * Checks a bundle's contents (see the module comment).
 * @throws AirlockError BUNDLE_LIMIT_EXCEEDED, BUNDLE_NATIVE_CODE, ZIP_INVALID.
 * @example await inspectBundleZip('bundle.zip', await readZipDirectory('bundle.zip'), DEFAULT_BUNDLE_LIMITS);
 */
export async function inspectBundleZip(
  zipPath: string,
  directory: ZipDirectory,
  limits: BundleLimits,
): Promise<void> {
  checkDeclared(directory, limits);
  for (const entry of directory.entries) checkNames(entry);
  for (const entry of directory.entries) {
    if (entry.isDirectory) continue;
    await inflateEntry(zipPath, entry);
  }
}
