import { AirlockError } from '../../../core/errors';
import {
  SignedTrustRootSchema,
  type SignedTrustRoot,
  type TrustRoot,
} from '../../../shared/schemas';
import type { Db } from '../connection';

/**
 * The servers this console knows (ARCHITECTURE.md §4): the trust root pinned on first contact (its
 * id, compared out of band) and the verified chain accepted since, with the server's key.
 */

export interface ServerRecord {
  readonly id: number;
  readonly url: string;
  /** Id of trust root version 1, pinned on first contact (ARCHITECTURE.md §4). */
  readonly pinnedRootId: string;
  /** The verified chain, version 1 first. */
  readonly roots: SignedTrustRoot[];
  /** The newest root of the chain: what approvals are judged by. */
  readonly root: TrustRoot;
  readonly serverKeyId: string;
  readonly serverPublicKey: string;
}

interface ServerRow {
  id: number;
  url: string;
  pinned_root_id: string;
  root_version: number;
  root_json: string;
  server_key_id: string;
  server_public_key: string;
}

function fromRow(row: ServerRow): ServerRecord {
  const roots = (JSON.parse(row.root_json) as unknown[]).map((root) =>
    SignedTrustRootSchema.parse(root),
  );
  const root = roots.at(-1)?.root;
  if (root === undefined)
    throw new AirlockError('INTERNAL', `No trust root stored for ${row.url}.`);
  return {
    id: row.id,
    url: row.url,
    pinnedRootId: row.pinned_root_id,
    roots,
    root,
    serverKeyId: row.server_key_id,
    serverPublicKey: row.server_public_key,
  };
}

export class ServersRepo {
  constructor(private readonly db: Db) {}

  get(url: string): ServerRecord | null {
    const row = this.db
      .prepare<[string], ServerRow>('SELECT * FROM servers WHERE url = ?')
      .get(url);
    return row === undefined ? null : fromRow(row);
  }

  byId(id: number): ServerRecord | null {
    const row = this.db.prepare<[number], ServerRow>('SELECT * FROM servers WHERE id = ?').get(id);
    return row === undefined ? null : fromRow(row);
  }

  list(): ServerRecord[] {
    return this.db.prepare<[], ServerRow>('SELECT * FROM servers ORDER BY id').all().map(fromRow);
  }

  /** Pins a server on first contact. */
  insert(
    url: string,
    pinnedRootId: string,
    roots: readonly SignedTrustRoot[],
    serverKey: { keyId: string; publicKey: string },
    now: Date,
  ): ServerRecord {
    const newest = roots.at(-1)?.root.version ?? 0;
    this.db
      .prepare(
        `INSERT INTO servers (url, pinned_root_id, root_version, root_json, server_key_id, server_public_key, added_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        url,
        pinnedRootId,
        newest,
        JSON.stringify(roots),
        serverKey.keyId,
        serverKey.publicKey,
        now.toISOString(),
      );
    const stored = this.get(url);
    if (stored === null) throw new AirlockError('INTERNAL', 'The server was not stored.');
    return stored;
  }

  /** Moves the chain forward (the caller verified it extends the stored one). */
  updateRoots(id: number, roots: readonly SignedTrustRoot[]): void {
    this.db
      .prepare('UPDATE servers SET root_version = ?, root_json = ? WHERE id = ?')
      .run(roots.at(-1)?.root.version ?? 0, JSON.stringify(roots), id);
  }
}
