import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { AirlockError } from '../../core';

/**
 * Content-addressed bundle files: `bundles/<aa>/<sha256>` (ARCHITECTURE.md §6). An upload is written to
 * `bundles/tmp/`, hashed while it streams, fsynced, checked, and only then renamed into place, so
 * a crash (even SIGKILL) mid-upload never leaves a partial file where devices could fetch it.
 */

const SHA256_HEX = /^[0-9a-f]{64}$/;

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, under another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class BundleFiles {
  constructor(
    private readonly dir: string,
    private readonly tmpDir: string,
  ) {
    mkdirSync(tmpDir, { recursive: true });
  }

  /**
   * Removes leftovers of uploads that never finished (called at start-up): the files of processes
   * that are gone. A temp file's name starts with its writer's PID, so that processes sharing the
   * folder (several servers on one PostgreSQL, one machine) leave each other's uploads alone.
   */
  cleanTemp(): void {
    for (const name of readdirSync(this.tmpDir)) {
      const pid = /^(\d+)-/.exec(name)?.[1];
      if (pid !== undefined && processAlive(Number(pid))) continue;
      rmSync(join(this.tmpDir, name), { force: true, recursive: true });
    }
  }

  /** Where `sha256` lives; only for a valid lowercase hex SHA-256 (no path tricks). */
  private pathFor(sha256: string): string {
    if (!SHA256_HEX.test(sha256)) {
      throw new AirlockError('INVALID_INPUT', 'A bundle is named by its lowercase hex SHA-256.');
    }
    return join(this.dir, sha256.slice(0, 2), sha256);
  }

  /**
   * The complete bundle file for `sha256`, or null. Attacker-controlled name: anything but 64
   * lowercase hex characters is simply not found.
   */
  file(sha256: string): { path: string; size: number } | null {
    if (!SHA256_HEX.test(sha256)) return null;
    const path = this.pathFor(sha256);
    try {
      const stats = statSync(path);
      return stats.isFile() ? { path, size: stats.size } : null;
    } catch {
      return null;
    }
  }

  /** Streams `body` to a temp file, checks size and hash, then renames it into place. */
  async put(
    sha256: string,
    body: AsyncIterable<Uint8Array>,
    maxBytes: number,
  ): Promise<{ created: boolean; size: number }> {
    const target = this.pathFor(sha256);
    const temp = join(this.tmpDir, `${process.pid}-${randomBytes(12).toString('hex')}.part`);
    const handle = await open(temp, 'wx', 0o644);
    let size = 0;
    try {
      const hash = createHash('sha256');
      for await (const chunk of body) {
        size += chunk.byteLength;
        if (size > maxBytes) {
          throw new AirlockError('PAYLOAD_TOO_LARGE', `A bundle may be at most ${maxBytes} bytes.`);
        }
        hash.update(chunk);
        await handle.write(chunk);
      }
      // Durable before visible: the bytes reach the disk before the rename publishes them.
      await handle.sync();
      await handle.close();
      const actual = hash.digest('hex');
      if (actual !== sha256) {
        throw new AirlockError(
          'BUNDLE_MISMATCH',
          `The uploaded bytes have SHA-256 ${actual}, not ${sha256}.`,
        );
      }
      const existing = this.file(sha256);
      if (existing !== null) {
        await unlink(temp);
        return { created: false, size: existing.size };
      }
      await mkdir(join(this.dir, sha256.slice(0, 2)), { recursive: true });
      await rename(temp, target);
      await syncDirectory(join(this.dir, sha256.slice(0, 2)));
      return { created: true, size };
    } catch (error) {
      await handle.close().catch(() => undefined);
      await unlink(temp).catch(() => undefined);
      throw error;
    }
  }
}

/** fsync of a directory, so that a rename survives a power loss (best effort where unsupported). */
async function syncDirectory(path: string): Promise<void> {
  try {
    const handle = await open(path, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Some platforms (Windows) cannot open a directory; the rename itself is still atomic.
  }
}
