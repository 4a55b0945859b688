import { MAX_FILE_TEXT_BYTES } from '../../../shared/files';
import type { FileOffer } from '../../../shared/ipc/contract';

/**
 * Files the user carries between machines (signing requests, approvals, key backups). Main never
 * writes them on its own: it hands the window a `FileOffer` and the user saves it. In Electron the
 * download goes through the session's `will-download`, which asks where to save; in the test
 * browser it is an ordinary download Playwright can catch.
 */
export function saveFile(offer: FileOffer, type = 'application/json'): void {
  const blob = new Blob([offer.content], { type });
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = offer.fileName;
  link.rel = 'noopener';
  document.body.append(link);
  link.click();
  link.remove();
  // The click has started the download; the URL is not needed after this turn.
  window.setTimeout(() => URL.revokeObjectURL(url), 0);
}

/** Reads a file the user picked as UTF-8 text, refusing ones too large to be ours. */
export async function readPickedFile(file: File): Promise<string> {
  if (file.size > MAX_FILE_TEXT_BYTES) {
    throw new Error(
      `${file.name} is ${Math.ceil(file.size / 1024)} KiB; Airlock files are at most ${MAX_FILE_TEXT_BYTES / 1024} KiB. Pick the file Airlock wrote.`,
    );
  }
  return file.text();
}
