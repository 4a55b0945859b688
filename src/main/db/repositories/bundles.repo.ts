import type { BundleFile } from '../../../core/bundle';
import { BundleRefSchema, type BundleRef } from '../../../shared/schemas';
import type { Db } from '../connection';

/** Bundles built in this console: where the encrypted file is, its facts and its file list. */
export interface StoredBundle {
  readonly path: string;
  readonly info: BundleRef;
  readonly files: BundleFile[] | null;
}

export class BundlesRepo {
  constructor(private readonly db: Db) {}

  /** Remembers a bundle (its file list is kept when a later call has none). */
  remember(path: string, info: BundleRef, files: readonly BundleFile[] | null, now: Date): void {
    this.db
      .prepare(
        `INSERT INTO bundles (encrypted_sha256, path, info_json, file_list_json, created_at)
         VALUES (?, ?, ?, ?, ?) ON CONFLICT (encrypted_sha256) DO UPDATE SET path = excluded.path,
         file_list_json = coalesce(excluded.file_list_json, bundles.file_list_json)`,
      )
      .run(
        info.encryptedSha256,
        path,
        JSON.stringify(info),
        files === null ? null : JSON.stringify(files),
        now.toISOString(),
      );
  }

  get(encryptedSha256: string): StoredBundle | null {
    const row = this.db
      .prepare<[string], { path: string; info_json: string; file_list_json: string | null }>(
        'SELECT path, info_json, file_list_json FROM bundles WHERE encrypted_sha256 = ?',
      )
      .get(encryptedSha256);
    if (row === undefined) return null;
    const info = BundleRefSchema.safeParse(JSON.parse(row.info_json));
    if (!info.success) return null;
    return {
      path: row.path,
      info: info.data,
      files: row.file_list_json === null ? null : (JSON.parse(row.file_list_json) as BundleFile[]),
    };
  }

  /** The file list of a bundle built here, or one taken from the server and checked. */
  files(encryptedSha256: string): BundleFile[] | null {
    const own = this.get(encryptedSha256)?.files ?? null;
    if (own !== null) return own;
    const json = this.db
      .prepare<[string], string>(
        'SELECT file_list_json FROM bundle_file_lists WHERE encrypted_sha256 = ?',
      )
      .pluck()
      .get(encryptedSha256);
    return json === undefined ? null : (JSON.parse(json) as BundleFile[]);
  }

  /** Keeps a file list checked against an approved statement's `fileListSha256`. */
  rememberFiles(encryptedSha256: string, files: readonly BundleFile[]): void {
    this.db
      .prepare(
        'INSERT OR REPLACE INTO bundle_file_lists (encrypted_sha256, file_list_json) VALUES (?, ?)',
      )
      .run(encryptedSha256, JSON.stringify(files));
  }
}
