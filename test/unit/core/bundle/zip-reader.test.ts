import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  checkEntryName,
  checkPluginPathRules,
  readZipDirectory,
  writeZip,
} from '../../../../src/core/bundle';
import {
  makeTempDir,
  pythonZipList,
  writeRawZip,
  type RawZipEntry,
} from '../../../helpers/bundle-fixtures';

const tmp = makeTempDir('airlock-zip-reader-');
afterAll(() => tmp.cleanup());

let counter = 0;
function rawZip(
  entries: readonly RawZipEntry[],
  options?: Parameters<typeof writeRawZip>[2],
): string {
  const path = join(tmp.path, `raw-${counter++}.zip`);
  writeRawZip(path, entries, options);
  return path;
}

const INDEX: RawZipEntry = { name: 'index.html', data: '<p>hi</p>' };

describe('#readZipDirectory', () => {
  it('lists what the writer wrote, as Python reads it', async () => {
    const out = join(tmp.path, 'listed.zip');
    await writeZip(
      [
        { name: 'index.html', data: Buffer.from('<p>'.repeat(100)) },
        { name: 'img.bin', data: randomBytes(5000) },
      ],
      out,
    );
    const { entries, size } = await readZipDirectory(out);
    const python = pythonZipList(out);
    expect(size).toBe(readFileSync(out).length);
    expect(entries.map((e) => [e.name, e.method, e.compressedSize, e.uncompressedSize])).toEqual(
      python.map((e) => [e.name, e.method, e.compressedSize, e.size]),
    );
    expect(entries[0]).toMatchObject({ localHeaderOffset: 0, flags: 0x800, isDirectory: false });
    expect(entries[1]?.unixMode).toBe(0o100000);
  });

  it('accepts directory entries and an archive comment (as AdmZip and others write them)', async () => {
    const path = rawZip(
      [
        { name: 'www/', externalAttributes: (0o40755 << 16) >>> 0 },
        { ...INDEX, name: 'www/index.html' },
      ],
      { comment: Buffer.from('made by hand') },
    );
    const { entries } = await readZipDirectory(path);
    expect(entries.map((e) => [e.name, e.isDirectory])).toEqual([
      ['www/', true],
      ['www/index.html', false],
    ]);
  });

  it('refuses a file that is not a ZIP', async () => {
    const path = join(tmp.path, 'noise.zip');
    writeFileSync(path, randomBytes(1000));
    await expect(readZipDirectory(path)).rejects.toThrowWithCode('ZIP_INVALID');
    writeFileSync(path, 'PK');
    await expect(readZipDirectory(path)).rejects.toThrowWithCode('ZIP_INVALID');
  });

  it('refuses Zip64 markers', async () => {
    const path = rawZip([INDEX]);
    const bytes = readFileSync(path);
    bytes.writeUInt16LE(0xffff, bytes.length - 22 + 8);
    bytes.writeUInt16LE(0xffff, bytes.length - 22 + 10);
    writeFileSync(path, bytes);
    await expect(readZipDirectory(path)).rejects.toThrowWithCode('ZIP_INVALID');
  });

  it('refuses ZIP-encrypted entries', async () => {
    const path = rawZip([{ ...INDEX, flags: 0x0801 }]);
    await expect(readZipDirectory(path)).rejects.toThrowWithCode('ZIP_INVALID');
  });

  it('refuses compression methods phones cannot read (bzip2 = 12)', async () => {
    const path = rawZip([{ ...INDEX, method: 12 }]);
    await expect(readZipDirectory(path)).rejects.toThrowWithCode('ZIP_INVALID');
  });

  it('refuses a local header whose name differs from the central directory', async () => {
    // Android (local headers) would extract "../evil.js"; iOS (central directory) "index.html".
    const path = rawZip([
      { ...INDEX, localName: '../evil.js' },
      { name: 'a.js', data: 'x' },
    ]);
    await expect(readZipDirectory(path)).rejects.toThrowWithCode('ZIP_INVALID');
  });

  it('refuses bytes before the first entry', async () => {
    const path = rawZip([INDEX], { prefix: Buffer.from('MZ self-extractor stub') });
    await expect(readZipDirectory(path)).rejects.toThrowWithCode('ZIP_INVALID');
  });

  it('refuses a stored entry with a data descriptor (ZipInputStream cannot read it)', async () => {
    const path = rawZip([{ ...INDEX, flags: 0x0808 }]);
    await expect(readZipDirectory(path)).rejects.toThrowWithCode('ZIP_INVALID');
  });

  it('refuses a non-ASCII name that is not flagged UTF-8', async () => {
    const path = rawZip([INDEX, { name: 'é.js', data: 'x', flags: 0 }]);
    await expect(readZipDirectory(path)).rejects.toThrowWithCode('ZIP_INVALID');
    const flagged = rawZip([INDEX, { name: 'é.js', data: 'x' }]);
    await expect(readZipDirectory(flagged)).resolves.not.toThrow();
  });

  it('reports a missing file as IO_ERROR', async () => {
    await expect(readZipDirectory(join(tmp.path, 'missing.zip'))).rejects.toThrowWithCode(
      'IO_ERROR',
    );
  });
});

describe('#checkEntryName (plugin resolvePathInsideDirectory)', () => {
  it.each([
    'index.html',
    'a/b.js',
    './index.html',
    'a//b.js',
    '.hidden',
    'dir/',
    '..foo/x',
    'a..b',
  ])('accepts %j', (name) => {
    expect(() => checkEntryName(name)).not.toThrow();
  });

  it.each([
    ['empty', ''],
    ['backslash (windows_path_fail)', 'assets\\app.js'],
    ['NUL', 'a\0b'],
    ['leading ..', '../x.js'],
    ['inner .. that stays inside', 'a/../b.js'],
    ['bare ..', '..'],
    ['absolute', '/etc/passwd'],
    ['tilde (iOS isAbsolutePath)', '~/x.js'],
    ['tilde name', '~x'],
    ['the folder itself', '.'],
    ['the folder itself, slash', './'],
    ['a component over 255 bytes', `${'x'.repeat(256)}.js`],
  ])('rejects %s', (_why, name) => {
    expect(() => checkEntryName(name)).toThrowWithCode('BUNDLE_PATH_REJECTED');
  });
});

describe('#checkPluginPathRules', () => {
  const file = (name: string): { name: string } => ({ name });

  it('finds index.html at the root', () => {
    expect(checkPluginPathRules([file('index.html'), file('a/b.js')])).toEqual({
      files: 2,
      root: '',
    });
  });

  it('accepts a single top-level folder holding index.html (the plugin flattens it)', () => {
    const entries = [{ name: 'www/', isDirectory: true }, file('www/index.html'), file('www/a.js')];
    expect(checkPluginPathRules(entries)).toEqual({ files: 2, root: 'www/' });
  });

  it.each([
    ['two top-level folders', ['www/index.html', 'other/a.js']],
    ['a hidden file beside the folder (iOS counts it)', ['www/index.html', '.DS_Store']],
    ['a folder without index.html', ['www/main.js']],
    ['index.html two levels down', ['www/dist/index.html']],
    ['index.html as a folder', ['index.html/a.js']],
  ])('refuses %s with BUNDLE_NO_INDEX', (_why, names) => {
    expect(() => checkPluginPathRules(names.map(file))).toThrowWithCode('BUNDLE_NO_INDEX');
  });

  it('refuses an archive with only folders as BUNDLE_EMPTY', () => {
    expect(() => checkPluginPathRules([{ name: 'www/', isDirectory: true }])).toThrowWithCode(
      'BUNDLE_EMPTY',
    );
  });

  it('refuses a name that appears twice after normalization', () => {
    expect(() => checkPluginPathRules([file('index.html'), file('./index.html')])).toThrowWithCode(
      'ZIP_INVALID',
    );
    expect(() => checkPluginPathRules([file('index.html'), file('index.html/')])).toThrowWithCode(
      'ZIP_INVALID',
    );
  });

  it('refuses a bad path anywhere in the archive', () => {
    const entries = [file('index.html'), file('assets\\app.js')];
    expect(() => checkPluginPathRules(entries)).toThrowWithCode('BUNDLE_PATH_REJECTED');
  });

  it('refuses symlink and special-file modes, and modes that contradict the name', () => {
    const index = file('index.html');
    const link = { name: 'a.js', unixMode: 0o120000 };
    const fifo = { name: 'a.js', unixMode: 0o010000 };
    const dirWithoutSlash = { name: 'a', unixMode: 0o040000 };
    expect(() => checkPluginPathRules([index, link])).toThrowWithCode('BUNDLE_SPECIAL_FILE');
    expect(() => checkPluginPathRules([index, fifo])).toThrowWithCode('BUNDLE_SPECIAL_FILE');
    expect(() => checkPluginPathRules([index, dirWithoutSlash])).toThrowWithCode('ZIP_INVALID');
  });

  it('sees a symlink entry in a real archive', async () => {
    const path = rawZip([
      INDEX,
      { name: 'leak', data: '/etc/passwd', externalAttributes: (0o120777 << 16) >>> 0 },
    ]);
    const { entries } = await readZipDirectory(path);
    expect(() => checkPluginPathRules(entries)).toThrowWithCode('BUNDLE_SPECIAL_FILE');
  });
});
