/**
 * The few ZIP structures Airlock writes and reads (PKWARE APPNOTE 6.3.x, sections 4.3.7, 4.3.12 and
 * 4.3.16), shared by the writer, the reader and the test helpers that craft tricky archives.
 * ZIP32 only: Zip64 is neither written nor accepted.
 */

export const LOCAL_HEADER_SIGNATURE = 0x04034b50;
export const CENTRAL_HEADER_SIGNATURE = 0x02014b50;
export const END_OF_CENTRAL_DIRECTORY_SIGNATURE = 0x06054b50;
export const ZIP64_END_LOCATOR_SIGNATURE = 0x07064b50;
export const DATA_DESCRIPTOR_SIGNATURE = 0x08074b50;

export const LOCAL_HEADER_SIZE = 30;
export const CENTRAL_HEADER_SIZE = 46;
export const END_OF_CENTRAL_DIRECTORY_SIZE = 22;
export const ZIP64_END_LOCATOR_SIZE = 20;
/** The EOCD may be followed by a comment of up to 65535 bytes (APPNOTE 4.3.16). */
export const MAX_COMMENT_SIZE = 0xffff;

export const METHOD_STORED = 0;
export const METHOD_DEFLATED = 8;

/** General-purpose bit 0: the entry is encrypted (traditional PKWARE or strong encryption). */
export const FLAG_ENCRYPTED = 0x0001;
/** General-purpose bit 3: CRC and sizes follow the data in a data descriptor. */
export const FLAG_DATA_DESCRIPTOR = 0x0008;
/** General-purpose bit 11 (EFS): the name is UTF-8. */
export const FLAG_UTF8 = 0x0800;

/** "Version needed to extract" 2.0: deflate and folders (APPNOTE 4.4.3.2). */
export const VERSION_NEEDED = 20;
/** "Version made by": upper byte 3 = UNIX, so the upper 16 bits of external attributes are a mode. */
export const VERSION_MADE_BY_UNIX = (3 << 8) | VERSION_NEEDED;
export const HOST_UNIX = 3;

/** MS-DOS date 1980-01-01 (the earliest DOS date), time 00:00:00: fixed so output is reproducible. */
export const DOS_DATE_1980_01_01 = (0 << 9) | (1 << 5) | 1;
export const DOS_TIME_MIDNIGHT = 0;

export const S_IFMT = 0o170000;
export const S_IFREG = 0o100000;
export const S_IFDIR = 0o040000;
export const S_IFLNK = 0o120000;
/** A regular file, rw-r--r--, in the UNIX external-attribute layout. */
export const EXTERNAL_ATTRS_FILE = ((S_IFREG | 0o644) << 16) >>> 0;

/**
 * ZIP32 limits. 0xFFFF and 0xFFFFFFFF are the markers that send a reader to the Zip64 records
 * (APPNOTE 4.4.1.4), so the largest usable values are one less.
 */
export const ZIP32_MAX_ENTRIES = 0xfffe;
export const ZIP32_MAX_SIZE = 0xfffffffe;
export const ZIP32_MAX_NAME_BYTES = 0xffff;

/** The fields of one entry, as they appear in its local and central headers. */
export interface ZipHeaderFields {
  readonly nameBytes: Uint8Array;
  readonly method: number;
  readonly crc32: number;
  readonly compressedSize: number;
  readonly uncompressedSize: number;
  /** Defaults to {@link FLAG_UTF8}. */
  readonly flags?: number;
  /** Only for the central header. */
  readonly localHeaderOffset?: number;
  /** Defaults to {@link EXTERNAL_ATTRS_FILE}. Only for the central header. */
  readonly externalAttributes?: number;
  /** Defaults to {@link VERSION_MADE_BY_UNIX}. Only for the central header. */
  readonly versionMadeBy?: number;
}

/**
 * The local file header (APPNOTE 4.3.7) with a fixed date, no extra field.
 * @example writeAll([encodeLocalHeader({ nameBytes, method: 0, crc32, compressedSize: n, uncompressedSize: n }), data])
 */
export function encodeLocalHeader(f: ZipHeaderFields): Buffer {
  const b = Buffer.alloc(LOCAL_HEADER_SIZE + f.nameBytes.length);
  b.writeUInt32LE(LOCAL_HEADER_SIGNATURE, 0);
  b.writeUInt16LE(VERSION_NEEDED, 4);
  b.writeUInt16LE(f.flags ?? FLAG_UTF8, 6);
  b.writeUInt16LE(f.method, 8);
  b.writeUInt16LE(DOS_TIME_MIDNIGHT, 10);
  b.writeUInt16LE(DOS_DATE_1980_01_01, 12);
  b.writeUInt32LE(f.crc32 >>> 0, 14);
  b.writeUInt32LE(f.compressedSize, 18);
  b.writeUInt32LE(f.uncompressedSize, 22);
  b.writeUInt16LE(f.nameBytes.length, 26);
  b.writeUInt16LE(0, 28);
  b.set(f.nameBytes, LOCAL_HEADER_SIZE);
  return b;
}

/**
 * The central directory file header (APPNOTE 4.3.12): UNIX host, normalized mode, fixed date, no
 * extra field, no comment.
 * @example encodeCentralHeader({ ...fields, localHeaderOffset: 0 })
 */
export function encodeCentralHeader(f: ZipHeaderFields): Buffer {
  const b = Buffer.alloc(CENTRAL_HEADER_SIZE + f.nameBytes.length);
  b.writeUInt32LE(CENTRAL_HEADER_SIGNATURE, 0);
  b.writeUInt16LE(f.versionMadeBy ?? VERSION_MADE_BY_UNIX, 4);
  b.writeUInt16LE(VERSION_NEEDED, 6);
  b.writeUInt16LE(f.flags ?? FLAG_UTF8, 8);
  b.writeUInt16LE(f.method, 10);
  b.writeUInt16LE(DOS_TIME_MIDNIGHT, 12);
  b.writeUInt16LE(DOS_DATE_1980_01_01, 14);
  b.writeUInt32LE(f.crc32 >>> 0, 16);
  b.writeUInt32LE(f.compressedSize, 20);
  b.writeUInt32LE(f.uncompressedSize, 24);
  b.writeUInt16LE(f.nameBytes.length, 28);
  b.writeUInt16LE(0, 30); // extra field length
  b.writeUInt16LE(0, 32); // comment length
  b.writeUInt16LE(0, 34); // disk number start
  b.writeUInt16LE(0, 36); // internal attributes
  b.writeUInt32LE((f.externalAttributes ?? EXTERNAL_ATTRS_FILE) >>> 0, 38);
  b.writeUInt32LE(f.localHeaderOffset ?? 0, 42);
  b.set(f.nameBytes, CENTRAL_HEADER_SIZE);
  return b;
}

/**
 * The end of central directory record (APPNOTE 4.3.16), single disk, no comment.
 * @example encodeEndOfCentralDirectory(entries.length, cdSize, cdOffset)
 */
export function encodeEndOfCentralDirectory(
  entries: number,
  centralDirectorySize: number,
  centralDirectoryOffset: number,
): Buffer {
  const b = Buffer.alloc(END_OF_CENTRAL_DIRECTORY_SIZE);
  b.writeUInt32LE(END_OF_CENTRAL_DIRECTORY_SIGNATURE, 0);
  b.writeUInt16LE(0, 4);
  b.writeUInt16LE(0, 6);
  b.writeUInt16LE(entries, 8);
  b.writeUInt16LE(entries, 10);
  b.writeUInt32LE(centralDirectorySize, 12);
  b.writeUInt32LE(centralDirectoryOffset, 16);
  b.writeUInt16LE(0, 20);
  return b;
}
