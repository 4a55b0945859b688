import { open, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { AirlockError } from '../../../core';
import { BundleFiles } from '../bundle-files';
import {
  backendError,
  checkRange,
  isBlobName,
  type BlobPutResult,
  type BlobRange,
  type BlobStore,
} from './types';

/**
 * The embedded blob store: bundle files in one folder, `<dir>/<aa>/<sha256>`, uploads in
 * `<dir>/tmp/` (src/server/data-dir.ts). Writing is BundleFiles' (temp file, hash while streaming,
 * fsync, rename, fsync of the folder), so this store and the SQLite store's own files are the same
 * layout and a data directory works with either. No presigned URLs: a folder cannot sign one.
 */
export class FsBlobStore implements BlobStore {
  readonly location: string;
  private readonly files: BundleFiles;

  /**
   * @example const blobs = new FsBlobStore(paths.bundles, paths.bundlesTmp);
   */
  constructor(dir: string, tmpDir: string = join(dir, 'tmp')) {
    this.location = dir;
    this.files = new BundleFiles(dir, tmpDir);
  }

  /** Removes leftovers of uploads that never finished; only while no upload runs (start-up). */
  cleanTemp(): void {
    this.files.cleanTemp();
  }

  async put(
    sha256: string,
    body: AsyncIterable<Uint8Array>,
    maxBytes: number,
  ): Promise<BlobPutResult> {
    try {
      return await this.files.put(sha256, body, maxBytes);
    } catch (error) {
      throw backendError('storing a bundle', error);
    }
  }

  stat(sha256: string): Promise<{ size: number } | null> {
    const file = this.files.file(sha256);
    return Promise.resolve(file === null ? null : { size: file.size });
  }

  async read(sha256: string, range?: BlobRange): Promise<Readable> {
    if (range !== undefined) checkRange(range);
    const file = this.files.file(sha256);
    if (file === null) throw notFound(sha256);
    // Open first, then measure the open file: a delete in between cannot hand out a wrong size.
    let handle: FileHandle;
    try {
      handle = await open(file.path, 'r');
    } catch (error) {
      if (isMissing(error)) throw notFound(sha256);
      throw backendError('opening a bundle', error);
    }
    try {
      const { size } = await handle.stat();
      if (range !== undefined) checkRange(range, size);
    } catch (error) {
      await handle.close();
      throw backendError('reading a bundle', error);
    }
    return handle.createReadStream(
      range === undefined ? {} : { start: range.start, end: range.end },
    );
  }

  async delete(sha256: string): Promise<void> {
    const file = this.files.file(sha256);
    if (file === null) return;
    try {
      await unlink(file.path);
    } catch (error) {
      if (!isMissing(error)) throw backendError('deleting a bundle', error);
    }
  }
}

function notFound(sha256: string): AirlockError {
  const name = isBlobName(sha256) ? sha256 : 'that name';
  return new AirlockError('NOT_FOUND', `No bundle ${name} is stored.`);
}

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | null)?.code === 'ENOENT';
}
