import { createHash, randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { open, rm, type FileHandle } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { crc32, createDeflateRaw, deflateRaw, deflateRawSync, type ZlibOptions } from 'node:zlib';
import { AirlockError } from '../errors';
import {
  METHOD_DEFLATED,
  METHOD_STORED,
  ZIP32_MAX_ENTRIES,
  ZIP32_MAX_NAME_BYTES,
  ZIP32_MAX_SIZE,
  encodeCentralHeader,
  encodeEndOfCentralDirectory,
  encodeLocalHeader,
  type ZipHeaderFields,
} from './zip-format';

/**
 * A deterministic ZIP writer. The bytes depend only on the entries' names and contents: entries are
 * sorted by the bytes of their UTF-8 names, every entry has the same date (1980-01-01 00:00), mode
 * (0644 regular file), host (UNIX) and flags (UTF-8 names), and there are no extra fields, comments,
 * directory entries or data descriptors. Whether an entry is deflated or stored is decided from its
 * content alone.
 *
 * Files are read, checksummed and compressed up to {@link MAX_PARALLEL} at a time on libuv's thread
 * pool, and written strictly in sorted order; files above {@link BUFFER_LIMIT} are streamed. The
 * SHA-256 of the archive is computed from the bytes as they are written.
 *
 * Names are written as given: callers validate them (see `checkPluginPathRules`). Test helpers rely
 * on that to craft archives a phone must refuse.
 */

/** zlib level 6, the zlib and `zip` default: ~8% smaller than level 1 on minified JS, ~2x slower. */
const DEFLATE_LEVEL = 6;
/** Deflate output at or above 97% of the input is not worth it: the entry is stored. */
const STORE_PERCENT = 97;
/**
 * Files at least this large are first judged from three 4 KiB slices (start, middle, end) at
 * positions that depend only on the size: when their byte entropy is at least
 * {@link INCOMPRESSIBLE_BITS_PER_BYTE}, the file is already-compressed media (images, fonts, video)
 * and is stored without a deflate that would be thrown away. Minified JS or CSS sits near 5 bits per
 * byte, base64 near 6, PNG/JPEG/WOFF2 data near 8.
 */
const SAMPLE_MIN_SIZE = 16 * 1024;
const SAMPLE_SLICE = 4 * 1024;
const INCOMPRESSIBLE_BITS_PER_BYTE = 7.6;
/**
 * Below this size a deflate runs synchronously: the thread-pool round trip costs more than the
 * work (measured: 4 KiB files deflate twice as fast inline; from 64 KiB the pool wins).
 */
const SYNC_DEFLATE_LIMIT = 32 * 1024;
/** Files above this size are streamed instead of being held in memory. */
const BUFFER_LIMIT = 16 * 1024 * 1024;
/** At most this many files in flight, and at most this many bytes of them (one file always may). */
const MAX_PARALLEL = 8;
const PREFETCH_BUDGET = 64 * 1024 * 1024;
const STREAM_CHUNK = 1024 * 1024;
const WRITE_BATCH_BYTES = 1024 * 1024;
const WRITE_BATCH_CHUNKS = 512;
/** Open sources without following a final symlink, and without blocking on a FIFO swapped in. */
const OPEN_FLAGS =
  fsConstants.O_RDONLY |
  ((fsConstants.O_NOFOLLOW as number | undefined) ?? 0) |
  ((fsConstants.O_NONBLOCK as number | undefined) ?? 0);

/** An entry whose content is read from a file on disk. */
export interface ZipFileSource {
  /** The entry name inside the archive ("assets/app.js"). */
  readonly name: string;
  /** The absolute path to read. */
  readonly file: string;
  /** The size seen when the tree was scanned; used to plan memory, not trusted for the output. */
  readonly size: number;
}

/** An entry whose content is already in memory. */
export interface ZipBufferSource {
  readonly name: string;
  readonly data: Uint8Array;
}

export type ZipSource = ZipFileSource | ZipBufferSource;

export interface ZipWriteOptions {
  /**
   * Called with each entry's content before it is written (the whole content, or the first MiB of
   * a streamed file); throw to abort, e.g. to refuse native code.
   */
  readonly inspect?: (name: string, head: Uint8Array) => void;
  /** Called after each entry is written. */
  readonly onEntry?: (done: number, total: number) => void;
}

export interface ZipWriteResult {
  /** Lowercase hex SHA-256 of the archive bytes. */
  readonly sha256: string;
  readonly size: number;
  /** Number of entries written. */
  readonly files: number;
}

interface PlannedEntry {
  readonly name: string;
  readonly nameBytes: Buffer;
  readonly source: ZipSource;
  readonly size: number;
  readonly streamed: boolean;
}

interface PreparedEntry {
  readonly method: number;
  readonly crc32: number;
  readonly uncompressedSize: number;
  readonly payload: Uint8Array;
}

function tooLarge(what: string): AirlockError<'BUNDLE_TOO_LARGE'> {
  return new AirlockError(
    'BUNDLE_TOO_LARGE',
    `The bundle is too large for a ZIP32 archive: ${what}. Phones do not read Zip64.`,
  );
}

function ioError(message: string, cause: unknown): AirlockError<'IO_ERROR'> {
  return new AirlockError('IO_ERROR', message, { cause });
}

function isWorthDeflating(compressed: number, raw: number): boolean {
  return compressed * 100 < raw * STORE_PERCENT;
}

function deflateAsync(data: Uint8Array, options: ZlibOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    deflateRaw(data, options, (error, result) => (error ? reject(error) : resolve(result)));
  });
}

function deflateOptions(): ZlibOptions {
  // zlib's default 16 KiB output chunk measured faster here than larger chunks for web files.
  return { level: DEFLATE_LEVEL };
}

function sampleOffsets(size: number): number[] {
  return [0, Math.floor((size - SAMPLE_SLICE) / 2), size - SAMPLE_SLICE];
}

/** Order-0 (byte histogram) entropy of the slices, in bits per byte. */
function entropyBitsPerByte(slices: readonly Uint8Array[]): number {
  const counts = new Uint32Array(256);
  let total = 0;
  for (const slice of slices) {
    for (let i = 0; i < slice.length; i += 1) {
      const byte = slice[i] ?? 0;
      counts[byte] = (counts[byte] ?? 0) + 1;
    }
    total += slice.length;
  }
  let bits = 0;
  for (const count of counts) {
    if (count > 0) bits -= (count / total) * Math.log2(count / total);
  }
  return bits;
}

/** A deterministic judgement from the content alone: the same bytes always get the same method. */
function looksIncompressible(slices: readonly Uint8Array[]): boolean {
  return entropyBitsPerByte(slices) >= INCOMPRESSIBLE_BITS_PER_BYTE;
}

async function compressOrStore(raw: Uint8Array): Promise<{ method: number; payload: Uint8Array }> {
  const stored = { method: METHOD_STORED, payload: raw };
  if (raw.length === 0) return stored;
  if (raw.length >= SAMPLE_MIN_SIZE) {
    const slices = sampleOffsets(raw.length).map((at) => raw.subarray(at, at + SAMPLE_SLICE));
    if (looksIncompressible(slices)) return stored;
  }
  const deflated =
    raw.length < SYNC_DEFLATE_LIMIT
      ? deflateRawSync(raw, deflateOptions())
      : await deflateAsync(raw, deflateOptions());
  return isWorthDeflating(deflated.length, raw.length)
    ? { method: METHOD_DEFLATED, payload: deflated }
    : stored;
}

/** Opens a source file for reading and checks it is (still) a regular file. */
async function openRegularFile(name: string, file: string): Promise<FileHandle> {
  let handle: FileHandle;
  try {
    handle = await open(file, OPEN_FLAGS);
  } catch (error) {
    throw ioError(`Cannot read ${name}: ${(error as Error).message}`, error);
  }
  const stat = await handle.stat().catch(async (error: unknown) => {
    await handle.close();
    throw ioError(`Cannot read ${name}: ${(error as Error).message}`, error);
  });
  if (!stat.isFile()) {
    await handle.close();
    throw new AirlockError(
      'BUNDLE_SPECIAL_FILE',
      `${name} stopped being a regular file while the bundle was being built.`,
    );
  }
  return handle;
}

async function readSource(entry: PlannedEntry): Promise<Uint8Array> {
  if ('data' in entry.source) return entry.source.data;
  const handle = await openRegularFile(entry.name, entry.source.file);
  try {
    return await handle.readFile();
  } catch (error) {
    throw ioError(`Cannot read ${entry.name}: ${(error as Error).message}`, error);
  } finally {
    await handle.close();
  }
}

function checkEntrySize(name: string, size: number): void {
  if (size > ZIP32_MAX_SIZE) throw tooLarge(`${name} is ${size} bytes`);
}

async function prepareBuffered(
  entry: PlannedEntry,
  inspect: ZipWriteOptions['inspect'],
): Promise<PreparedEntry> {
  const raw = await readSource(entry);
  checkEntrySize(entry.name, raw.length);
  inspect?.(entry.name, raw);
  const crc = crc32(raw);
  const { method, payload } = await compressOrStore(raw);
  return { method, crc32: crc, uncompressedSize: raw.length, payload };
}

/**
 * Appends to the archive file and hashes exactly the bytes that go out. Small writes are gathered
 * and written together (one `writev` per MiB or per 512 chunks), so many tiny files stay cheap.
 */
class ZipOutput {
  private offset = 0;
  private flushed = 0;
  private pending: Uint8Array[] = [];
  private readonly hash = createHash('sha256');

  constructor(private readonly handle: FileHandle) {}

  get position(): number {
    return this.offset;
  }

  async write(chunks: readonly Uint8Array[]): Promise<void> {
    let length = 0;
    for (const chunk of chunks) length += chunk.length;
    if (this.offset + length > ZIP32_MAX_SIZE) throw tooLarge('it would exceed 4 GiB');
    for (const chunk of chunks) this.hash.update(chunk);
    this.pending.push(...chunks);
    this.offset += length;
    if (
      this.offset - this.flushed >= WRITE_BATCH_BYTES ||
      this.pending.length >= WRITE_BATCH_CHUNKS
    ) {
      await this.flush();
    }
  }

  async flush(): Promise<void> {
    const chunks = this.pending;
    this.pending = [];
    await writeFully(this.handle, chunks, this.flushed);
    this.flushed = this.offset;
  }

  digest(): string {
    return this.hash.digest('hex');
  }
}

async function writeFully(
  handle: FileHandle,
  chunks: readonly Uint8Array[],
  position: number,
): Promise<void> {
  let pending = chunks.filter((chunk) => chunk.length > 0);
  let at = position;
  while (pending.length > 0) {
    const { bytesWritten } = await handle.writev(pending, at);
    if (bytesWritten <= 0) throw ioError('Writing the bundle made no progress.', undefined);
    at += bytesWritten;
    pending = dropBytes(pending, bytesWritten);
  }
}

function dropBytes(chunks: Uint8Array[], count: number): Uint8Array[] {
  let left = count;
  const rest: Uint8Array[] = [];
  for (const chunk of chunks) {
    if (left >= chunk.length) {
      left -= chunk.length;
    } else {
      rest.push(left > 0 ? chunk.subarray(left) : chunk);
      left = 0;
    }
  }
  return rest;
}

/**
 * Starts {@link prepareBuffered} for entries in sorted order, ahead of the writer, within
 * {@link MAX_PARALLEL} and {@link PREFETCH_BUDGET}. Streamed entries are left to the writer.
 */
class PreparePool {
  private readonly tasks = new Map<number, Promise<PreparedEntry>>();
  private next = 0;
  private bytesInFlight = 0;

  constructor(
    private readonly entries: readonly PlannedEntry[],
    private readonly inspect: ZipWriteOptions['inspect'],
  ) {}

  take(index: number): Promise<PreparedEntry> {
    this.fill();
    const task = this.tasks.get(index);
    if (!task) return Promise.reject(new AirlockError('INTERNAL', `Entry ${index} not scheduled.`));
    return task;
  }

  release(index: number): void {
    const entry = this.entries[index];
    if (this.tasks.delete(index) && entry) this.bytesInFlight -= entry.size;
    this.fill();
  }

  private fill(): void {
    while (this.next < this.entries.length && this.tasks.size < MAX_PARALLEL) {
      const index = this.next;
      const entry = this.entries[index];
      if (!entry) return;
      if (entry.streamed) {
        this.next += 1;
        continue;
      }
      const fits = this.bytesInFlight + entry.size <= PREFETCH_BUDGET;
      if (!fits && this.tasks.size > 0) return;
      const task = prepareBuffered(entry, this.inspect);
      // The writer awaits each task in order; a failure is reported when its turn comes.
      task.catch(() => undefined);
      this.tasks.set(index, task);
      this.bytesInFlight += entry.size;
      this.next += 1;
    }
  }
}

interface LargeFilePass {
  readonly crc32: number;
  readonly size: number;
  readonly outputSize: number;
}

/**
 * Reads a large file once: CRC and size of the input, and the method's output (raw or deflated)
 * handed to `sink` in order.
 */
async function passLargeFile(
  entry: PlannedEntry,
  file: string,
  method: number,
  sink: (chunk: Uint8Array) => Promise<void>,
  inspect?: ZipWriteOptions['inspect'],
): Promise<LargeFilePass> {
  const handle = await openRegularFile(entry.name, file);
  let crc = 0;
  let size = 0;
  let outputSize = 0;
  async function* source(): AsyncGenerator<Buffer> {
    const stream = handle.createReadStream({ highWaterMark: STREAM_CHUNK, autoClose: false });
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      if (size === 0) inspect?.(entry.name, chunk);
      crc = crc32(chunk, crc);
      size += chunk.length;
      checkEntrySize(entry.name, size);
      yield chunk;
    }
  }
  async function drain(chunks: AsyncIterable<Buffer>): Promise<void> {
    for await (const chunk of chunks) {
      outputSize += chunk.length;
      await sink(chunk);
    }
  }
  try {
    if (method === METHOD_STORED) await drain(source());
    else
      await pipeline(
        source,
        createDeflateRaw({ ...deflateOptions(), chunkSize: 64 * 1024 }),
        drain,
      );
  } finally {
    await handle.close();
  }
  return { crc32: crc, size, outputSize };
}

async function readSlices(entry: PlannedEntry, file: string): Promise<Uint8Array[]> {
  const handle = await openRegularFile(entry.name, file);
  try {
    const { size } = await handle.stat();
    return await Promise.all(
      sampleOffsets(size).map(async (at) => {
        const slice = Buffer.alloc(SAMPLE_SLICE);
        const { bytesRead } = await handle.read(slice, 0, SAMPLE_SLICE, at);
        return slice.subarray(0, bytesRead);
      }),
    );
  } finally {
    await handle.close();
  }
}

/**
 * A file too large to hold in memory. Pass 1 computes its CRC and, when the sample says it is
 * compressible, deflates it into a scratch file next to the archive; pass 2 appends the local header
 * (now complete: no data descriptor, which Android's ZipInputStream cannot use for stored entries)
 * and copies the data, checking that the file did not change in between.
 */
async function writeStreamedEntry(
  out: ZipOutput,
  entry: PlannedEntry,
  outFile: string,
  inspect: ZipWriteOptions['inspect'],
): Promise<ZipHeaderFields> {
  if ('data' in entry.source) throw new AirlockError('INTERNAL', 'In-memory entries are buffered.');
  const file = entry.source.file;
  const scratch = `${outFile}.deflate-${randomBytes(6).toString('hex')}`;
  try {
    const deflate = !looksIncompressible(await readSlices(entry, file));
    const first = deflate
      ? await deflateToScratch(entry, file, scratch, inspect)
      : await passLargeFile(entry, file, METHOD_STORED, () => Promise.resolve(), inspect);
    const method =
      deflate && isWorthDeflating(first.outputSize, first.size) ? METHOD_DEFLATED : METHOD_STORED;
    const fields: ZipHeaderFields = {
      nameBytes: entry.nameBytes,
      method,
      crc32: first.crc32,
      compressedSize: method === METHOD_STORED ? first.size : first.outputSize,
      uncompressedSize: first.size,
      localHeaderOffset: out.position,
    };
    await out.write([encodeLocalHeader(fields)]);
    if (method === METHOD_DEFLATED) await copyScratch(entry, scratch, out, fields.compressedSize);
    else await copyStoredAgain(entry, file, out, first);
    return fields;
  } finally {
    await rm(scratch, { force: true });
  }
}

async function deflateToScratch(
  entry: PlannedEntry,
  file: string,
  scratch: string,
  inspect: ZipWriteOptions['inspect'],
): Promise<LargeFilePass> {
  const handle = await open(scratch, 'wx');
  try {
    let at = 0;
    return await passLargeFile(
      entry,
      file,
      METHOD_DEFLATED,
      async (chunk) => {
        await writeFully(handle, [chunk], at);
        at += chunk.length;
      },
      inspect,
    );
  } finally {
    await handle.close();
  }
}

async function copyScratch(
  entry: PlannedEntry,
  scratch: string,
  out: ZipOutput,
  expected: number,
): Promise<void> {
  const handle = await openRegularFile(entry.name, scratch);
  let copied = 0;
  try {
    const stream = handle.createReadStream({ highWaterMark: STREAM_CHUNK, autoClose: false });
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      copied += chunk.length;
      await out.write([chunk]);
    }
  } finally {
    await handle.close();
  }
  if (copied !== expected) throw changedWhileBuilding(entry.name);
}

async function copyStoredAgain(
  entry: PlannedEntry,
  file: string,
  out: ZipOutput,
  first: LargeFilePass,
): Promise<void> {
  const second = await passLargeFile(entry, file, METHOD_STORED, (chunk) => out.write([chunk]));
  if (second.crc32 !== first.crc32 || second.size !== first.size) {
    throw changedWhileBuilding(entry.name);
  }
}

function changedWhileBuilding(name: string): AirlockError<'IO_ERROR'> {
  return ioError(`${name} changed while the bundle was being built; build again.`, undefined);
}

function compareBytes(a: PlannedEntry, b: PlannedEntry): number {
  return Buffer.compare(a.nameBytes, b.nameBytes);
}

function planEntries(sources: readonly ZipSource[]): PlannedEntry[] {
  if (sources.length > ZIP32_MAX_ENTRIES) {
    throw tooLarge(`${sources.length} files (at most ${ZIP32_MAX_ENTRIES})`);
  }
  const planned = sources.map((source): PlannedEntry => {
    const nameBytes = Buffer.from(source.name, 'utf8');
    if (nameBytes.length === 0 || nameBytes.length > ZIP32_MAX_NAME_BYTES) {
      throw new AirlockError(
        'INVALID_INPUT',
        `The entry name "${source.name}" has an invalid length.`,
      );
    }
    const size = 'data' in source ? source.data.length : source.size;
    checkEntrySize(source.name, size);
    const streamed = !('data' in source) && size > BUFFER_LIMIT;
    return { name: source.name, nameBytes, source, size, streamed };
  });
  planned.sort(compareBytes);
  for (let i = 1; i < planned.length; i += 1) {
    const [previous, current] = [planned[i - 1], planned[i]];
    if (previous && current && compareBytes(previous, current) === 0) {
      throw new AirlockError('INVALID_INPUT', `The entry name "${current.name}" appears twice.`);
    }
  }
  return planned;
}

async function writeEntries(
  out: ZipOutput,
  entries: readonly PlannedEntry[],
  outFile: string,
  options: ZipWriteOptions,
): Promise<ZipHeaderFields[]> {
  const pool = new PreparePool(entries, options.inspect);
  const central: ZipHeaderFields[] = [];
  for (const [index, entry] of entries.entries()) {
    if (entry.streamed) {
      central.push(await writeStreamedEntry(out, entry, outFile, options.inspect));
    } else {
      const prepared = await pool.take(index);
      const fields: ZipHeaderFields = {
        nameBytes: entry.nameBytes,
        method: prepared.method,
        crc32: prepared.crc32,
        compressedSize: prepared.payload.length,
        uncompressedSize: prepared.uncompressedSize,
        localHeaderOffset: out.position,
      };
      await out.write([encodeLocalHeader(fields), prepared.payload]);
      pool.release(index);
      central.push(fields);
    }
    options.onEntry?.(index + 1, entries.length);
  }
  return central;
}

async function writeCentralDirectory(
  out: ZipOutput,
  central: readonly ZipHeaderFields[],
): Promise<void> {
  const offset = out.position;
  const headers = central.map(encodeCentralHeader);
  const size = headers.reduce((sum, header) => sum + header.length, 0);
  await out.write([...headers, encodeEndOfCentralDirectory(central.length, size, offset)]);
}

/**
 * Writes `sources` as a deterministic ZIP32 archive to `outFile` (created or truncated). The caller
 * writes to a temporary name and renames, so that a failure leaves no partial archive behind.
 *
 * @throws AirlockError BUNDLE_TOO_LARGE beyond 65534 entries or 4 GiB; IO_ERROR when a file cannot be
 *   read or changes while being written; whatever `options.inspect` throws.
 * @example
 *   const { sha256, size } = await writeZip(
 *     [{ name: 'index.html', data: Buffer.from('<!doctype html>') }],
 *     '/tmp/bundle.zip',
 *   );
 */
export async function writeZip(
  sources: readonly ZipSource[],
  outFile: string,
  options: ZipWriteOptions = {},
): Promise<ZipWriteResult> {
  const entries = planEntries(sources);
  let handle: FileHandle;
  try {
    handle = await open(outFile, 'w');
  } catch (error) {
    throw ioError(`Cannot write ${outFile}: ${(error as Error).message}`, error);
  }
  try {
    const out = new ZipOutput(handle);
    const central = await writeEntries(out, entries, outFile, options);
    await writeCentralDirectory(out, central);
    await out.flush();
    return { sha256: out.digest(), size: out.position, files: entries.length };
  } finally {
    await handle.close();
  }
}
