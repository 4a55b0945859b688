import { readFile, writeFile } from 'node:fs/promises';
import { AirlockError } from '../../core/errors';
import { createOsKeychain } from '../../main/keys/keychain';
import { KeyStore, publicFacts, type KeyInfo } from '../../main/keys/key-store';
import type { AuditAction } from '../../main/db/repositories/audit.repo';
import { ConsoleServices } from '../../main/services/console';
import { oneOf, parseCommand, required, UsageError } from '../args';
import { confirm, printJson, printLine, readPassphrase } from '../io';
import { KEY_TYPES } from '../../shared/schemas/keys';

export const KEYS_USAGE = `airlock keys create --type identity|bundle [--label NAME] [--json]
airlock keys list [--json]
airlock keys export-public <keyId> [--format pem|hex]
airlock keys import --type bundle <pkcs1-private.pem> [--label NAME] [--json]
airlock keys backup <keyId> --out FILE
airlock keys restore FILE [--json]
airlock keys delete <keyId> [--yes]`;

function keyStore(): KeyStore {
  return new KeyStore(createOsKeychain());
}

/** The console's audit trail records every key action (issue 4); public facts only. */
function audit(action: AuditAction, key: KeyInfo, details: Record<string, unknown> = {}): void {
  const services = ConsoleServices.open();
  try {
    services.record(action, key.type === 'identity' ? key.keyId : 'local', {
      keyId: key.keyId,
      type: key.type,
      ...details,
    });
  } finally {
    services.close();
  }
}

/** What a key looks like on stdout: public facts only (ARCHITECTURE.md §2). */
function publicView(key: KeyInfo): Record<string, unknown> {
  return { ...publicFacts(key) };
}

function printKeyId(key: KeyInfo, json: boolean | undefined): void {
  if (json === true) printJson(publicView(key));
  else printLine(key.keyId);
}

async function create(argv: string[]): Promise<void> {
  const usage = 'airlock keys create --type identity|bundle [--label NAME] [--json]';
  const { values } = parseCommand(
    argv,
    { type: { type: 'string' }, label: { type: 'string' }, json: { type: 'boolean' } },
    { min: 0, max: 0, usage },
  );
  const type = oneOf(required(values.type, '--type', usage), KEY_TYPES, '--type');
  const key = await keyStore().create(type, values.label);
  audit('key.created', key);
  printKeyId(key, values.json);
}

async function list(argv: string[]): Promise<void> {
  const { values } = parseCommand(
    argv,
    { json: { type: 'boolean' } },
    { min: 0, max: 0, usage: 'airlock keys list [--json]' },
  );
  const keys = await keyStore().list();
  if (values.json === true) {
    printJson({ keys: keys.map(publicView) });
    return;
  }
  if (keys.length === 0) {
    printLine('No keys yet. Create one with: airlock keys create --type identity');
    return;
  }
  printLine(['TYPE    ', 'FINGERPRINT        ', 'CREATED             ', 'LABEL'].join('  '));
  for (const key of keys) {
    printLine(
      [
        key.type.padEnd(8),
        key.fingerprint.padEnd(19),
        key.createdAt.slice(0, 19).padEnd(20),
        key.label,
      ].join('  '),
    );
  }
}

async function exportPublic(argv: string[]): Promise<void> {
  const usage = 'airlock keys export-public <keyId> [--format pem|hex]';
  const { values, positionals } = parseCommand(
    argv,
    { format: { type: 'string' } },
    { min: 1, max: 1, usage },
  );
  const format = oneOf(values.format ?? 'pem', ['pem', 'hex'] as const, '--format');
  const text = await keyStore().exportPublic(positionals[0] as string, format);
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

async function importKey(argv: string[]): Promise<void> {
  const usage = 'airlock keys import --type bundle <pkcs1-private.pem> [--label NAME] [--json]';
  const { values, positionals } = parseCommand(
    argv,
    { type: { type: 'string' }, label: { type: 'string' }, json: { type: 'boolean' } },
    { min: 1, max: 1, usage },
  );
  oneOf(required(values.type, '--type', usage), ['bundle'] as const, '--type');
  const file = positionals[0] as string;
  // Read once into memory and handed to the keychain; Airlock keeps no copy on disk.
  const pem = await readFile(file, 'utf8').catch((error: unknown) => {
    throw new AirlockError(
      'IO_ERROR',
      `Cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? 'error'}.`,
      {
        cause: error,
      },
    );
  });
  const key = await keyStore().importBundleKey(pem, values.label);
  audit('key.imported', key);
  printKeyId(key, values.json);
}

async function backup(argv: string[]): Promise<void> {
  const usage = 'airlock keys backup <keyId> --out FILE';
  const { values, positionals } = parseCommand(
    argv,
    { out: { type: 'string' } },
    { min: 1, max: 1, usage },
  );
  const out = required(values.out, '--out', usage);
  const store = keyStore();
  const key = await store.get(positionals[0] as string);
  const passphrase = await readPassphrase(`encrypt the backup of ${key.fingerprint}`, true);
  const envelope = await store.backup(key.keyId, passphrase);
  // 'wx': never overwrite an existing file (it may be another key's only backup); 0600: owner only.
  await writeFile(out, `${JSON.stringify(envelope, null, 2)}\n`, { flag: 'wx', mode: 0o600 }).catch(
    (error: unknown) => {
      const code = (error as NodeJS.ErrnoException).code;
      throw new AirlockError(
        code === 'EEXIST' ? 'ALREADY_EXISTS' : 'IO_ERROR',
        code === 'EEXIST'
          ? `${out} already exists; choose another file name.`
          : `Cannot write ${out}: ${code ?? 'error'}.`,
        { cause: error },
      );
    },
  );
  printLine(`Encrypted backup of ${key.type} key ${key.fingerprint} written to ${out}`);
  audit('key.backed_up', key, { file: out });
}

async function restore(argv: string[]): Promise<void> {
  const usage = 'airlock keys restore FILE [--json]';
  const { values, positionals } = parseCommand(
    argv,
    { json: { type: 'boolean' } },
    { min: 1, max: 1, usage },
  );
  const file = positionals[0] as string;
  const text = await readFile(file, 'utf8').catch((error: unknown) => {
    throw new AirlockError(
      'IO_ERROR',
      `Cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? 'error'}.`,
      {
        cause: error,
      },
    );
  });
  let envelope: unknown;
  try {
    envelope = JSON.parse(text);
  } catch (error) {
    throw new AirlockError(
      'BACKUP_INVALID',
      `${file} is not an Airlock key backup (it is not JSON).`,
      { cause: error },
    );
  }
  const passphrase = await readPassphrase('decrypt the backup', false);
  const key = await keyStore().restore(envelope, passphrase);
  audit('key.restored', key);
  printKeyId(key, values.json);
}

async function remove(argv: string[]): Promise<void> {
  const usage = 'airlock keys delete <keyId> [--yes]';
  const { values, positionals } = parseCommand(
    argv,
    { yes: { type: 'boolean' } },
    { min: 1, max: 1, usage },
  );
  const store = keyStore();
  const key = await store.get(positionals[0] as string);
  if (values.yes !== true) {
    const question = `Delete ${key.type} key ${key.fingerprint} (${key.label}) from the keychain? Without a backup it is gone for good.`;
    if (!(await confirm(question))) {
      throw new AirlockError(
        'INVALID_ARGUMENT',
        'Not deleted: confirm at the prompt, or pass --yes.',
      );
    }
  }
  await store.delete(key.keyId);
  audit('key.deleted', key);
  printLine(`Deleted ${key.type} key ${key.fingerprint}`);
}

const COMMANDS: Record<string, (argv: string[]) => Promise<void>> = {
  create,
  list,
  'export-public': exportPublic,
  import: importKey,
  backup,
  restore,
  delete: remove,
};

export async function keysCommand(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  const command = name === undefined ? undefined : COMMANDS[name];
  if (command === undefined) throw new UsageError(`usage:\n${KEYS_USAGE}`);
  await command(rest);
}
