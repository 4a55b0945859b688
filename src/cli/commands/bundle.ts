import { readFile, writeFile } from 'node:fs/promises';
import {
  buildBundle,
  bundleFileList,
  encryptBundle,
  verifyEncryptedBundle,
} from '../../core/bundle';
import { AirlockError } from '../../core/errors';
import { createOsKeychain } from '../../main/keys/keychain';
import { KeyStore } from '../../main/keys/key-store';
import { parseCommand, required, UsageError } from '../args';
import { formatBytes, printJson, printLine, progressReporter } from '../io';

export const BUNDLE_USAGE = `airlock bundle build <webDir> --out bundle.zip [--json]
airlock bundle encrypt <bundle.zip> --key <bundleKeyId> --out bundle.enc [--json]
airlock bundle verify <bundle.enc> --public-key <pem-file> --session-key S --checksum C [--json]`;

async function build(argv: string[]): Promise<void> {
  const usage = 'airlock bundle build <webDir> --out bundle.zip [--json]';
  const { values, positionals } = parseCommand(
    argv,
    { out: { type: 'string' }, json: { type: 'boolean' } },
    { min: 1, max: 1, usage },
  );
  const out = required(values.out, '--out', usage);
  const progress = progressReporter('Building');
  const result = await buildBundle(positionals[0] as string, out, {
    onProgress: (p) => progress.update(p.done, p.total),
  }).finally(() => progress.finish());
  if (values.json === true) printJson(result);
  else
    printLine(
      `Built ${out}: ${result.files} files, ${formatBytes(result.size)}, sha256 ${result.sha256}`,
    );
}

async function encrypt(argv: string[]): Promise<void> {
  const usage = 'airlock bundle encrypt <bundle.zip> --key <bundleKeyId> --out bundle.enc [--json]';
  const { values, positionals } = parseCommand(
    argv,
    { key: { type: 'string' }, out: { type: 'string' }, json: { type: 'boolean' } },
    { min: 1, max: 1, usage },
  );
  const keyId = required(values.key, '--key', usage);
  const out = required(values.out, '--out', usage);
  const signer = await new KeyStore(createOsKeychain()).bundleSigner(keyId);
  const progress = progressReporter('Encrypting');
  const info = await encryptBundle(positionals[0] as string, out, signer, {
    onProgress: (p) => progress.update(p.done, p.total, 'bytes'),
  }).finally(() => progress.finish());
  // Beside the bundle, for `propose` to read later (ARCHITECTURE.md §8), and the zip's file list for
  // the reviewer's file-list diff in signing requests (ARCHITECTURE.md §5).
  await writeFile(`${out}.json`, `${JSON.stringify(info, null, 2)}\n`);
  const files = await bundleFileList(positionals[0] as string);
  await writeFile(`${out}.files.json`, `${JSON.stringify(files)}\n`);
  if (values.json === true) printJson(info);
  else {
    printLine(
      `Encrypted ${out}: ${formatBytes(info.encryptedSize)}, ${info.files} files, key_id ${info.keyId}`,
    );
    printLine(`Details (session key, signed checksum) written to ${out}.json`);
  }
}

async function verify(argv: string[]): Promise<void> {
  const usage =
    'airlock bundle verify <bundle.enc> --public-key <pem-file> --session-key S --checksum C [--json]';
  const { values, positionals } = parseCommand(
    argv,
    {
      'public-key': { type: 'string' },
      'session-key': { type: 'string' },
      checksum: { type: 'string' },
      json: { type: 'boolean' },
    },
    { min: 1, max: 1, usage },
  );
  const keyFile = required(values['public-key'], '--public-key', usage);
  const publicKeyPem = await readFile(keyFile, 'utf8').catch((error: unknown) => {
    throw new AirlockError(
      'IO_ERROR',
      `Cannot read ${keyFile}: ${(error as NodeJS.ErrnoException).code ?? 'error'}.`,
      {
        cause: error,
      },
    );
  });
  const result = await verifyEncryptedBundle(positionals[0] as string, {
    publicKeyPem,
    sessionKey: required(values['session-key'], '--session-key', usage),
    checksum: required(values.checksum, '--checksum', usage),
  });
  if (values.json === true) printJson({ accepted: true, ...result });
  else
    printLine(
      `OK: a device would accept this bundle (${result.files} files, sha256 ${result.sha256})`,
    );
}

const COMMANDS: Record<string, (argv: string[]) => Promise<void>> = { build, encrypt, verify };

export async function bundleCommand(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  const command = name === undefined ? undefined : COMMANDS[name];
  if (command === undefined) throw new UsageError(`usage:\n${BUNDLE_USAGE}`);
  await command(rest);
}
