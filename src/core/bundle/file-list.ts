import { canonicalize, sha256Hex } from '../crypto';
import { readZipEntries, type ZipEntryInfo } from './zip-reader';

/** One file of a bundle as a reviewer compares it: its path, size and CRC-32 from the zip. */
export interface BundleFile {
  readonly name: string;
  readonly size: number;
  readonly crc32: number;
}

/** What changed between two bundles' file lists (ARCHITECTURE.md §5: the reviewer's file-list diff). */
export interface FileListDiff {
  readonly added: string[];
  readonly removed: string[];
  readonly changed: string[];
  readonly unchanged: number;
}

/**
 * The files of a plaintext bundle zip, sorted by name, directories left out.
 * @example const files = await bundleFileList('bundle.zip');
 */
export async function bundleFileList(zipPath: string): Promise<BundleFile[]> {
  return fileListOf(await readZipEntries(zipPath));
}

/** The file list of a zip's directory entries, sorted by name, directories left out. */
export function fileListOf(entries: readonly ZipEntryInfo[]): BundleFile[] {
  return entries
    .filter((entry) => !entry.isDirectory)
    .map((entry) => ({ name: entry.name, size: entry.uncompressedSize, crc32: entry.crc32 }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * The SHA-256 of a file list (RFC 8785 JSON of the sorted list), as a release statement carries it
 * (`bundle.fileListSha256`): it binds the list to the approved statement, so that any console can
 * take a bundle's list from the server and check it, and a reviewer can check a diff offline
 * (ARCHITECTURE.md §5). The server refuses a release whose bundle does not have this list.
 * @example fileListSha256(await bundleFileList('bundle.zip'))
 */
export function fileListSha256(files: readonly BundleFile[]): string {
  const sorted = [...files]
    .map((file) => ({ name: file.name, size: file.size, crc32: file.crc32 }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return sha256Hex(canonicalize(sorted));
}

/**
 * Added, removed and changed paths from `before` to `after` (changed: same path, other size or CRC).
 * @example diffFileLists(current, next) // { added: ['assets/new.js'], removed: [], changed: ['index.html'], unchanged: 86 }
 */
export function diffFileLists(
  before: readonly BundleFile[],
  after: readonly BundleFile[],
): FileListDiff {
  const old = new Map(before.map((file) => [file.name, file]));
  const added: string[] = [];
  const changed: string[] = [];
  let unchanged = 0;
  for (const file of after) {
    const previous = old.get(file.name);
    if (previous === undefined) added.push(file.name);
    else if (previous.size !== file.size || previous.crc32 !== file.crc32) changed.push(file.name);
    else unchanged += 1;
    old.delete(file.name);
  }
  return { added, removed: [...old.keys()].sort(), changed, unchanged };
}
