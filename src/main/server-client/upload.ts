import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { AirlockError } from '../../core/errors';

/** Progress of a bundle upload: `phase` is `hash` (reading to digest) then `upload`. */
export interface UploadProgress {
  readonly phase: 'hash' | 'upload';
  readonly done: number;
  readonly total: number;
}

function readError(filePath: string, error: unknown): AirlockError<'IO_ERROR'> {
  const code = (error as NodeJS.ErrnoException).code ?? 'error';
  return new AirlockError('IO_ERROR', `Cannot read ${filePath}: ${code}.`, { cause: error });
}

/**
 * SHA-256 and size of a file, read as a stream (a bundle may be large: never in memory at once).
 * @example const { digest, size } = await fileSha256('bundle.enc');
 */
export async function fileSha256(
  filePath: string,
  onProgress?: (progress: UploadProgress) => void,
): Promise<{ digest: Uint8Array; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  const total = await stat(filePath).then(
    (info) => info.size,
    (error: unknown) => {
      throw readError(filePath, error);
    },
  );
  try {
    for await (const chunk of createReadStream(filePath)) {
      const bytes = chunk as Buffer;
      hash.update(bytes);
      size += bytes.byteLength;
      onProgress?.({ phase: 'hash', done: size, total });
    }
  } catch (error) {
    throw readError(filePath, error);
  }
  return { digest: new Uint8Array(hash.digest()), size };
}

/**
 * A request body that streams `filePath`, reporting bytes as they are handed to fetch. The size is
 * checked at the end: a file that changed since it was hashed fails the upload rather than sending
 * bytes that do not match the signed digest.
 */
export function fileUploadBody(
  filePath: string,
  size: number,
  onProgress?: (progress: UploadProgress) => void,
): ReadableStream<Uint8Array> {
  const iterator = createReadStream(filePath)[Symbol.asyncIterator]();
  let sent = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const next = (await iterator.next()) as IteratorResult<Buffer>;
        if (next.done === true) {
          if (sent !== size) throw new Error(`${filePath} changed while it was uploaded`);
          controller.close();
          return;
        }
        sent += next.value.byteLength;
        controller.enqueue(new Uint8Array(next.value));
        onProgress?.({ phase: 'upload', done: sent, total: size });
      } catch (error) {
        controller.error(error);
      }
    },
    async cancel() {
      await iterator.return?.();
    },
  });
}
