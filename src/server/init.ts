import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import {
  AirlockError,
  bytesToHex,
  formatFingerprint,
  identityKeyId,
  parseIdentityPublicKey,
  parseTrustRoot,
  rootId,
} from '../core';
import { STATEMENT_KINDS, type Policy, type ServerKey, type TrustRoot } from '../shared/schemas';
import { dataDirPaths } from './data-dir';
import { createServerKeyFile } from './server-key';
import { initializePostgres, type PostgresTarget } from './store/postgres/postgres-store';
import { SqliteServerStore } from './store/sqlite-store';

/**
 * `airlock server init` (ARCHITECTURE.md §4, §8): a new data directory with the server key and trust root
 * version 1 built from the first admins' public keys.
 *
 * Version 1 carries no signatures: the server holds no admin keys, so nobody could sign it here.
 * It is trusted on init, and consoles pin it by its fingerprint (`rootId`), compared out of band;
 * every later version must be signed through the chain (`verifyRootUpdate`).
 */

export interface InitServerOptions {
  readonly dataDir: string;
  /** Identity public keys of the first admins: 64 lowercase hex characters each. */
  readonly admins: readonly string[];
  /** Admin signatures a root update needs (default 1, at most the number of admins). */
  readonly rootThreshold?: number;
  readonly now?: Date;
  /**
   * State in PostgreSQL instead of `server.db` (issue 15): the database gets the schema, trust
   * root version 1 and the server key's public half; the data directory keeps the server key
   * (copy it to every process of the deployment) and `bundles/`.
   */
  readonly database?: PostgresTarget;
}

const ONE_YEAR_MS = 365 * 24 * 60 * 60 * 1000;

/** Roles whose approvals count under the default policies. */
const DEFAULT_APPROVER_ROLES = ['admin', 'release_manager', 'signing_officer'] as const;

/**
 * The default policies: for every app, channel and kind, one approval by an admin, release
 * manager or signing officer other than the proposer (so always a second person).
 */
export function defaultPolicies(): Policy[] {
  return STATEMENT_KINDS.map((kind) => ({
    app: '*',
    channel: '*',
    kind,
    threshold: 1,
    roles: [...DEFAULT_APPROVER_ROLES],
    proposerCounts: false,
  }));
}

/**
 * Trust root version 1 for `admins` (raw public keys), expiring one year after `now`. Throws
 * AirlockError INVALID_INPUT when `rootThreshold` exceeds the number of admins.
 * @example const root = initialTrustRoot([adminKey], 1, new Date());
 */
export function initialTrustRoot(
  admins: readonly Uint8Array[],
  rootThreshold: number,
  now: Date,
): TrustRoot {
  return parseTrustRoot({
    v: 1,
    version: 1,
    expiresAt: new Date(now.getTime() + ONE_YEAR_MS).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    members: admins.map((publicKey) => {
      const keyId = identityKeyId(publicKey);
      return {
        keyId,
        publicKey: bytesToHex(publicKey),
        name: `admin ${formatFingerprint(keyId)}`,
        roles: ['admin'],
      };
    }),
    policies: defaultPolicies(),
    rootThreshold,
  });
}

function parseAdmins(admins: readonly string[]): Uint8Array[] {
  if (admins.length === 0) {
    throw new AirlockError('INVALID_ARGUMENT', 'A server needs at least one admin public key.');
  }
  const keys = admins.map((hex) => parseIdentityPublicKey(hex.trim()));
  const ids = new Set(keys.map(identityKeyId));
  if (ids.size !== keys.length) {
    throw new AirlockError('INVALID_ARGUMENT', 'The same admin key is given twice.');
  }
  return keys;
}

function assertFreshDataDir(dir: string): void {
  if (existsSync(dir) && readdirSync(dir).length > 0) {
    throw new AirlockError(
      'DATA_DIR_EXISTS',
      `${dir} is not empty; a server is initialised once, into a new or empty directory.`,
    );
  }
}

/**
 * Creates a server data directory: `server-key.json` (0600), `server.db` with trust root v1,
 * `bundles/`. Refuses a non-empty directory (DATA_DIR_EXISTS) and bad admin keys (KEY_INVALID).
 * @example const { rootId, serverKey } = await initServer({ dataDir, admins: [hex] });
 */
export async function initServer(
  options: InitServerOptions,
): Promise<{ serverKey: ServerKey; rootId: string }> {
  const now = options.now ?? new Date();
  const admins = parseAdmins(options.admins);
  const root = initialTrustRoot(admins, options.rootThreshold ?? 1, now);
  const paths = dataDirPaths(options.dataDir);
  assertFreshDataDir(paths.root);
  mkdirSync(paths.root, { recursive: true, mode: 0o700 });
  try {
    mkdirSync(paths.bundlesTmp, { recursive: true });
    const serverKey = createServerKeyFile(paths.serverKey);
    if (options.database === undefined) {
      SqliteServerStore.initialize(paths, { root, signatures: [] }, now);
    } else {
      await initializePostgres(options.database, { root, signatures: [] }, serverKey, now);
    }
    return { serverKey, rootId: rootId(root) };
  } catch (error) {
    // Leave no half-initialised directory behind: the next init must be able to start over.
    for (const name of readdirSync(paths.root)) {
      rmSync(`${paths.root}/${name}`, { recursive: true, force: true });
    }
    throw error;
  }
}
