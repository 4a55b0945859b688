import {
  constants,
  createCipheriv,
  createHash,
  generateKeyPairSync,
  privateEncrypt,
  randomBytes,
  type KeyObject,
} from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { crc32, deflateRawSync } from 'node:zlib';
import {
  METHOD_DEFLATED,
  METHOD_STORED,
  encodeCentralHeader,
  encodeEndOfCentralDirectory,
  encodeLocalHeader,
} from '../../src/core/bundle/zip-format';

/** A fresh folder under the OS temp folder; `cleanup()` removes it. */
export interface TempDir {
  readonly path: string;
  cleanup(): void;
}

export function makeTempDir(prefix = 'airlock-test-'): TempDir {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

/** Writes `files` (relative path → content) under `root`, creating folders. */
export function writeTree(root: string, files: Record<string, string | Uint8Array>): void {
  for (const [name, content] of Object.entries(files)) {
    const path = join(root, name);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, content);
  }
}

/** A small, valid web build: index.html at the root plus some text and an incompressible asset. */
export function sampleWebBuild(): Record<string, string | Uint8Array> {
  return {
    'index.html': '<!doctype html><html><head><script src="assets/app.js"></script></head></html>',
    'assets/app.js': 'export const answer = () => 42;\n'.repeat(500),
    'assets/style.css': 'body{margin:0;padding:0}\n'.repeat(200),
    'assets/logo.png': randomBytes(40_000),
    'assets/empty.txt': '',
    'données/ünïcode.json': '{"ok":true}',
  };
}

/** One entry of a hand-made ZIP: anything the writer would normalize can be overridden. */
export interface RawZipEntry {
  readonly name: string;
  readonly data?: Uint8Array | string;
  readonly deflate?: boolean;
  readonly flags?: number;
  readonly externalAttributes?: number;
  readonly versionMadeBy?: number;
  /** A different name in the local header than in the central directory. */
  readonly localName?: string;
  /** Another compression method number written into both headers. */
  readonly method?: number;
  /** An uncompressed size (and CRC) the headers claim instead of the real ones: a lying archive. */
  readonly declared?: { readonly size: number; readonly crc32: number };
}

export interface RawZipOptions {
  /** Bytes before the first local header (e.g. a self-extractor stub). */
  readonly prefix?: Uint8Array;
  /** Bytes appended after the end record, counted as the archive comment. */
  readonly comment?: Uint8Array;
}

/**
 * Writes a ZIP by hand, in the given order and with the given names, so tests can make archives
 * that Airlock's writer never would (".." entries, backslashes, symlink modes, mismatched headers).
 */
export function writeRawZip(
  path: string,
  entries: readonly RawZipEntry[],
  options: RawZipOptions = {},
): void {
  const prefix = Buffer.from(options.prefix ?? new Uint8Array());
  const parts: Buffer[] = [prefix];
  const centrals: Buffer[] = [];
  let offset = prefix.length;
  for (const entry of entries) {
    const raw = Buffer.from(entry.data ?? '');
    const payload = entry.deflate ? deflateRawSync(raw) : raw;
    const method = entry.method ?? (entry.deflate ? METHOD_DEFLATED : METHOD_STORED);
    const fields = {
      nameBytes: Buffer.from(entry.name, 'utf8'),
      method,
      crc32: entry.declared?.crc32 ?? crc32(raw),
      compressedSize: payload.length,
      uncompressedSize: entry.declared?.size ?? raw.length,
      localHeaderOffset: offset,
      ...(entry.flags === undefined ? {} : { flags: entry.flags }),
      ...(entry.externalAttributes === undefined
        ? {}
        : { externalAttributes: entry.externalAttributes }),
      ...(entry.versionMadeBy === undefined ? {} : { versionMadeBy: entry.versionMadeBy }),
    };
    const local = encodeLocalHeader({
      ...fields,
      nameBytes: Buffer.from(entry.localName ?? entry.name, 'utf8'),
    });
    parts.push(local, payload);
    centrals.push(encodeCentralHeader(fields));
    offset += local.length + payload.length;
  }
  const cd = Buffer.concat(centrals);
  const end = encodeEndOfCentralDirectory(entries.length, cd.length, offset);
  const comment = Buffer.from(options.comment ?? new Uint8Array());
  end.writeUInt16LE(comment.length, 20);
  writeFileSync(path, Buffer.concat([...parts, cd, end, comment]));
}

/** TEST-ONLY RSA-2048 bundle key, generated per test run. Never use outside tests. */
export interface TestRsaKey {
  readonly privateKey: KeyObject;
  readonly privatePkcs1Pem: string;
  readonly publicKeyPem: string;
}

export function generateTestRsaKey(): TestRsaKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    privateKey,
    privatePkcs1Pem: privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
  };
}

/**
 * An independent, in-memory rendering of Capgo encryption v2 as `@capgo/cli` 8.x does it
 * (`cli/src/api/crypto.ts`: encryptSource + encryptChecksumV3), for test files only: lets tests sign
 * archives that `encryptBundle` would refuse to touch.
 */
export function encryptLikeCapgo(
  zipPath: string,
  outPath: string,
  privateKey: KeyObject,
): { sessionKey: string; checksum: string } {
  const zip = readFileSync(zipPath);
  const key = randomBytes(16);
  const iv = randomBytes(16);
  const cipher = createCipheriv('aes-128-cbc', key, iv);
  writeFileSync(outPath, Buffer.concat([cipher.update(zip), cipher.final()]));
  const rsa = (data: Buffer): Buffer =>
    privateEncrypt({ key: privateKey, padding: constants.RSA_PKCS1_PADDING }, data);
  const digest = createHash('sha256').update(zip).digest();
  return {
    sessionKey: `${iv.toString('base64')}:${rsa(key).toString('base64')}`,
    checksum: rsa(digest).toString('hex'),
  };
}

/** Lowercase hex SHA-256 of a file. */
export function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** One entry as Python's zipfile module reads it: an independent ZIP reader. */
export interface PythonZipEntry {
  readonly name: string;
  readonly method: number;
  readonly size: number;
  readonly compressedSize: number;
  readonly sha256: string;
  readonly mode: number;
  readonly date: readonly number[];
  readonly flags: number;
  readonly createSystem: number;
  readonly extraLength: number;
}

const PYTHON_LIST = `
import hashlib, json, sys, zipfile
out = []
with zipfile.ZipFile(sys.argv[1]) as z:
    bad = z.testzip()
    if bad is not None:
        raise SystemExit('bad CRC in ' + bad)
    for i in z.infolist():
        out.append({'name': i.filename, 'method': i.compress_type, 'size': i.file_size,
                    'compressedSize': i.compress_size,
                    'sha256': hashlib.sha256(z.read(i)).hexdigest(), 'mode': i.external_attr >> 16,
                    'date': list(i.date_time), 'flags': i.flag_bits, 'createSystem': i.create_system,
                    'extraLength': len(i.extra)})
print(json.dumps(out))
`;

/** Lists and CRC-checks a ZIP with Python's zipfile (throws if Python finds it damaged). */
export function pythonZipList(zipPath: string): PythonZipEntry[] {
  const result = spawnSync('python3', ['-c', PYTHON_LIST, zipPath], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`python zipfile failed: ${result.stderr}`);
  return JSON.parse(result.stdout) as PythonZipEntry[];
}

/** Runs Info-ZIP's `unzip -t`; returns its exit status and output. */
export function unzipTest(zipPath: string): { status: number | null; output: string } {
  const result = spawnSync('unzip', ['-t', zipPath], { encoding: 'utf8' });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}
