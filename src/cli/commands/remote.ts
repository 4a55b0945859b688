import { readFile, writeFile } from 'node:fs/promises';
import { formatFingerprint } from '../../core/crypto';
import { AirlockError } from '../../core/errors';
import { serverKeyBytes } from '../../core/log';
import type { IdentitySigner } from '../../core/statement';
import { resolveIdentity } from '../../main/identity';
import { createOsKeychain } from '../../main/keys/keychain';
import { KeyStore } from '../../main/keys/key-store';
import { createServerClient, type ServerClient } from '../../main/server-client';
import { ConsoleServices } from '../../main/services/console';
import { Workflow } from '../../main/services/workflow';
import type { RootChain, TrustRoot } from '../../shared/schemas';
import { required } from '../args';
import { warn } from '../io';

/**
 * What the commands that talk to a server share (ARCHITECTURE.md §8): the `--server`/`--identity` options,
 * a signed client, the pinned root chain, times and files.
 */

/** Options every server command takes. */
export const SERVER_OPTIONS = {
  server: { type: 'string' },
  identity: { type: 'string' },
  json: { type: 'boolean' },
} as const;

export interface Connection {
  readonly client: ServerClient;
  readonly signer: IdentitySigner;
}

/** A client for `--server`, signing with the identity ARCHITECTURE.md §8 picks. */
export async function connect(
  values: { server?: string | undefined; identity?: string | undefined },
  usage: string,
  opts: { identity?: string | undefined; allowEnvironmentKey?: boolean } = {},
): Promise<Connection> {
  const baseUrl = required(values.server, '--server', usage);
  const signer = await resolveIdentity(() => new KeyStore(createOsKeychain()), {
    keyId: opts.identity ?? values.identity,
    allowEnvironmentKey: opts.allowEnvironmentKey === true,
    warn,
  });
  return { client: createServerClient({ baseUrl, signer }), signer };
}

/** A client for public reads only (no identity needed). */
export function publicClient(values: { server?: string | undefined }, usage: string): ServerClient {
  return createServerClient({ baseUrl: required(values.server, '--server', usage) });
}

export interface TrustedChain {
  readonly chain: RootChain;
  /** The newest trust root, trusted through the chain. */
  readonly root: TrustRoot;
  readonly firstRootId: string;
  readonly serverKey: Uint8Array;
}

/**
 * The server's trust root as this machine trusts it (ARCHITECTURE.md §4, the workflow's rule 1):
 * pinned on first contact (the fingerprint is printed, to compare out of band), moved forward
 * through the verified chain (N → N+1, both thresholds) on every later contact. A chain that does
 * not extend the pinned one is refused, never used.
 */
export async function pinnedChain(url: string): Promise<TrustedChain> {
  const services = ConsoleServices.open();
  try {
    const result = await services.connect(url);
    const broken = result.findings[0];
    if (broken !== undefined) {
      throw new AirlockError(
        'SIGNATURE_INVALID',
        `${broken.message} Nothing was done; compare the server's fingerprint with the one pinned here (${formatFingerprint(result.server.pinnedRootId)}).`,
      );
    }
    if (result.firstContact) {
      process.stderr.write(
        `Pinned ${result.server.url}: trust root fingerprint ${result.fingerprint}; compare it with the one "airlock server init" printed.\n`,
      );
    }
    const { server } = result;
    const key = { keyId: server.serverKeyId, publicKey: server.serverPublicKey };
    return {
      chain: { roots: server.roots, server: key },
      root: server.root,
      firstRootId: server.pinnedRootId,
      serverKey: serverKeyBytes(key),
    };
  } finally {
    services.close();
  }
}

/** A member's name for people, or the key's fingerprint when it is not a member. */
export function memberName(root: TrustRoot, keyId: string): string {
  const member = root.members.find((candidate) => candidate.keyId === keyId);
  return member === undefined
    ? formatFingerprint(keyId)
    : `${member.name} (${formatFingerprint(keyId)})`;
}

const DURATION = /^(\d{1,4})([mhd])$/;
const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** `30m`, `12h`, `7d` → milliseconds (at most 365 days). */
export function parseDuration(text: string, flag: string): number {
  const match = DURATION.exec(text.trim());
  const ms = match === null ? NaN : Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
  if (!(ms > 0) || ms > 365 * UNIT_MS.d) {
    throw new AirlockError(
      'INVALID_ARGUMENT',
      `${flag} must be a duration such as 30m, 12h or 7d (at most 365d); got "${text}".`,
    );
  }
  return ms;
}

/** A 64-hex statement id, or an INVALID_ARGUMENT naming what was given. */
export function statementIdArgument(value: string): string {
  const id = value.trim().toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(id)) {
    throw new AirlockError(
      'INVALID_ARGUMENT',
      `"${value}" is not a statement id (64 hex characters).`,
    );
  }
  return id;
}

/** Reads a file as text, with a one-sentence error. */
export async function readText(path: string): Promise<string> {
  return readFile(path, 'utf8').catch((error: unknown) => {
    throw new AirlockError(
      'IO_ERROR',
      `Cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? 'error'}.`,
      { cause: error },
    );
  });
}

/** Reads a JSON file, with a one-sentence error. */
export async function readJson(path: string): Promise<unknown> {
  const text = await readText(path);
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new AirlockError('INVALID_INPUT', `${path} is not JSON.`, { cause: error });
  }
}

/** Writes a JSON file (pretty, trailing newline), with a one-sentence error. */
export async function writeJson(path: string, value: unknown): Promise<void> {
  await writeFile(path, `${JSON.stringify(value, null, 2)}\n`).catch((error: unknown) => {
    throw new AirlockError(
      'IO_ERROR',
      `Cannot write ${path}: ${(error as NodeJS.ErrnoException).code ?? 'error'}.`,
      { cause: error },
    );
  });
}

/** A flag given several times or as a comma list: `--role a --role b,c` → [a, b, c]. */
export function listValues(values: readonly string[] | string | undefined): string[] {
  const all = values === undefined ? [] : Array.isArray(values) ? values : [values];
  return all
    .flatMap((value: string) => value.split(','))
    .map((value) => value.trim())
    .filter((value) => value !== '');
}

/** Runs `work` with the console's store open (ARCHITECTURE.md §7), closing it afterwards. */
export async function withWorkflow<T>(
  work: (workflow: Workflow, services: ConsoleServices) => Promise<T>,
): Promise<T> {
  const services = ConsoleServices.open();
  try {
    return await work(new Workflow(services), services);
  } finally {
    services.close();
  }
}

/**
 * Pins `url` on first contact, telling the user the fingerprint to compare (ARCHITECTURE.md §4);
 * later contacts move the pin forward inside the workflow.
 */
export async function pinFirst(services: ConsoleServices, url: string): Promise<string> {
  const known = services.server(url);
  if (known !== null) return known.url;
  const connected = await services.connect(url);
  process.stderr.write(
    `Pinned ${connected.server.url}: trust root fingerprint ${connected.fingerprint}; compare it with the one "airlock server init" printed.\n`,
  );
  return connected.server.url;
}
