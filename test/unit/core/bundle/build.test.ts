import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildBundle, type BundleBuildProgress } from '../../../../src/core/bundle';
import {
  makeTempDir,
  pythonZipList,
  sampleWebBuild,
  sha256File,
  unzipTest,
  writeTree,
} from '../../../helpers/bundle-fixtures';

const tmp = makeTempDir('airlock-build-');
afterAll(() => tmp.cleanup());

let counter = 0;
/** A fresh web folder with `files`, and a bundle path outside it. */
function webDir(files: Record<string, string | Uint8Array>): { dir: string; out: string } {
  const dir = join(tmp.path, `web-${counter}`);
  const out = join(tmp.path, `bundle-${counter++}.zip`);
  mkdirSync(dir);
  writeTree(dir, files);
  return { dir, out };
}

/** Builds and expects a refusal with `code`; also checks nothing was left at the output path. */
async function expectRefusal(dir: string, out: string, code: string): Promise<void> {
  await expect(buildBundle(dir, out)).rejects.toThrowWithCode(code);
  expect(existsSync(out)).toBe(false);
  expect(readdirSync(tmp.path).filter((name) => name.includes('.tmp-'))).toEqual([]);
}

const INDEX = { 'index.html': '<!doctype html><p>hi</p>' };

describe('#buildBundle', () => {
  it('builds a ZIP that unzip -t and Python read back, with the folder content', async () => {
    const files = sampleWebBuild();
    const { dir, out } = webDir(files);
    const result = await buildBundle(dir, out);
    expect(unzipTest(out).status).toBe(0);
    const listed = pythonZipList(out);
    expect(listed.map((e) => e.name).sort()).toEqual(Object.keys(files).sort());
    for (const entry of listed) expect(entry.sha256).toBe(sha256File(join(dir, entry.name)));
    expect(result).toEqual({ sha256: sha256File(out), size: readFileSync(out).length, files: 6 });
  });

  it('gives the same bytes twice in a row', async () => {
    const { dir, out } = webDir(sampleWebBuild());
    const first = await buildBundle(dir, out);
    const again = `${out}.again.zip`;
    const second = await buildBundle(dir, again);
    expect(second.sha256).toBe(first.sha256);
    expect(readFileSync(again).equals(readFileSync(out))).toBe(true);
  });

  it('gives the same bytes from a copy elsewhere with other times and permissions', async () => {
    const { dir, out } = webDir(sampleWebBuild());
    const first = await buildBundle(dir, out);
    const copy = join(tmp.path, 'elsewhere', 'deeper', 'copy');
    cpSync(dir, copy, { recursive: true });
    utimesSync(join(copy, 'index.html'), new Date('2001-02-03'), new Date('2001-02-03'));
    utimesSync(join(copy, 'assets', 'app.js'), new Date(), new Date('2030-01-01'));
    chmodSync(join(copy, 'assets', 'style.css'), 0o600);
    chmodSync(join(copy, 'index.html'), 0o755);
    const second = await buildBundle(copy, join(tmp.path, 'copy.zip'));
    expect(second.sha256).toBe(first.sha256);
    expect(pythonZipList(join(tmp.path, 'copy.zip')).every((e) => e.mode === 0o100644)).toBe(true);
  });

  it('accepts index.html inside a single top-level folder', async () => {
    const { dir, out } = webDir({ 'www/index.html': '<p>', 'www/a.js': 'x' });
    expect((await buildBundle(dir, out)).files).toBe(2);
    expect(pythonZipList(out).map((e) => e.name)).toEqual(['www/a.js', 'www/index.html']);
  });

  it('includes hidden files: nothing is skipped silently', async () => {
    const { dir, out } = webDir({
      ...INDEX,
      '.well-known/assetlinks.json': '[]',
      '.DS_Store': 'x',
    });
    await buildBundle(dir, out);
    expect(pythonZipList(out).map((e) => e.name)).toEqual([
      '.DS_Store',
      '.well-known/assetlinks.json',
      'index.html',
    ]);
  });

  it('stores a symlink to a file inside as that file, and walks a linked folder', async () => {
    const { dir, out } = webDir({ ...INDEX, 'assets/real.js': 'real();', 'lib/x.css': 'a{}' });
    symlinkSync('real.js', join(dir, 'assets', 'alias.js'));
    symlinkSync('lib', join(dir, 'lib2'));
    await buildBundle(dir, out);
    const listed = Object.fromEntries(pythonZipList(out).map((e) => [e.name, e.sha256]));
    expect(listed['assets/alias.js']).toBe(sha256File(join(dir, 'assets', 'real.js')));
    expect(listed['lib2/x.css']).toBe(sha256File(join(dir, 'lib', 'x.css')));
  });

  it('reports scan and zip progress', async () => {
    const { dir, out } = webDir(sampleWebBuild());
    const events: BundleBuildProgress[] = [];
    await buildBundle(dir, out, { onProgress: (p) => events.push(p) });
    expect(events.some((e) => e.phase === 'scan')).toBe(true);
    expect(events.filter((e) => e.phase === 'zip').map((e) => e.done)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(events.at(-1)).toEqual({ phase: 'zip', done: 6, total: 6 });
  });

  describe('refuses', () => {
    it('a name with a backslash (windows_path_fail)', async () => {
      const { dir, out } = webDir({ ...INDEX, 'assets\\app.js': 'x' });
      await expectRefusal(dir, out, 'BUNDLE_PATH_REJECTED');
    });

    it('a name starting with "~" (iOS treats it as absolute)', async () => {
      const { dir, out } = webDir({ ...INDEX, '~backup.js': 'x' });
      await expectRefusal(dir, out, 'BUNDLE_PATH_REJECTED');
    });

    it('a symlink to a file outside the folder', async () => {
      const { dir, out } = webDir(INDEX);
      writeFileSync(join(tmp.path, 'secret.txt'), 'secret');
      symlinkSync(join(tmp.path, 'secret.txt'), join(dir, 'leak.txt'));
      await expectRefusal(dir, out, 'BUNDLE_SYMLINK_OUTSIDE');
    });

    it('a relative symlink that climbs out of the folder', async () => {
      const { dir, out } = webDir(INDEX);
      symlinkSync('../../..', join(dir, 'up'));
      await expectRefusal(dir, out, 'BUNDLE_SYMLINK_OUTSIDE');
    });

    it('a dangling symlink', async () => {
      const { dir, out } = webDir(INDEX);
      symlinkSync('missing.js', join(dir, 'dangling.js'));
      await expectRefusal(dir, out, 'BUNDLE_SYMLINK_OUTSIDE');
    });

    it('a symlink loop', async () => {
      const { dir, out } = webDir(INDEX);
      symlinkSync('b', join(dir, 'a'));
      symlinkSync('a', join(dir, 'b'));
      await expectRefusal(dir, out, 'BUNDLE_SYMLINK_OUTSIDE');
    });

    it('a symlink to one of its parent folders', async () => {
      const { dir, out } = webDir({ ...INDEX, 'sub/x.js': 'x' });
      symlinkSync('..', join(dir, 'sub', 'parent'));
      await expectRefusal(dir, out, 'BUNDLE_SYMLINK_OUTSIDE');
    });

    it('a FIFO', async () => {
      const { dir, out } = webDir(INDEX);
      expect(spawnSync('mkfifo', [join(dir, 'pipe')]).status).toBe(0);
      await expectRefusal(dir, out, 'BUNDLE_SPECIAL_FILE');
    });

    it.each([
      ['ELF', Buffer.from('7f454c46020101000000', 'hex')],
      ['Mach-O 64', Buffer.from('cffaedfe0c000001', 'hex')],
      ['Mach-O big-endian', Buffer.from('feedface00000007', 'hex')],
      ['universal binary / Java class', Buffer.from('cafebabe00000002', 'hex')],
      ['DEX', Buffer.from('dex\n035\0', 'latin1')],
    ])('%s content in a .txt file', async (_kind, magic) => {
      const { dir, out } = webDir({
        ...INDEX,
        'notes.txt': Buffer.concat([magic, randomBytes(64)]),
      });
      await expectRefusal(dir, out, 'BUNDLE_NATIVE_CODE');
    });

    it('a PE executable (MZ with a PE header) renamed to .png', async () => {
      const pe = Buffer.alloc(256);
      pe.write('MZ', 0, 'latin1');
      pe.writeUInt32LE(0x80, 0x3c);
      pe.write('PE\0\0', 0x80, 'latin1');
      const { dir, out } = webDir({ ...INDEX, 'logo.png': pe });
      await expectRefusal(dir, out, 'BUNDLE_NATIVE_CODE');
    });

    it('does not mistake text starting with "MZ" for a PE file', async () => {
      const { dir, out } = webDir({ ...INDEX, 'mz.txt': `MZ ${'text '.repeat(40)}` });
      await expect(buildBundle(dir, out)).resolves.not.toThrow();
    });

    it.each([
      'lib/libnative.so',
      'lib/libfoo.so.1',
      'a.dylib',
      'b.jar',
      'classes.dex',
      'app.apk',
      'x.ipa',
      'y.aab',
      'z.exe',
      'w.dll',
      'C.class',
    ])('native code by name: %s', async (name) => {
      const { dir, out } = webDir({ ...INDEX, [name]: 'not really native' });
      await expectRefusal(dir, out, 'BUNDLE_NATIVE_CODE');
    });

    it('a .framework folder', async () => {
      const { dir, out } = webDir({ ...INDEX, 'Foo.framework/Info.plist': '<plist/>' });
      await expectRefusal(dir, out, 'BUNDLE_NATIVE_CODE');
    });

    it('a folder without index.html', async () => {
      const { dir, out } = webDir({ 'main.js': 'x', 'assets/a.css': 'a{}' });
      await expectRefusal(dir, out, 'BUNDLE_NO_INDEX');
    });

    it('two top-level folders, even if one holds index.html', async () => {
      const { dir, out } = webDir({ 'www/index.html': '<p>', 'other/a.js': 'x' });
      await expectRefusal(dir, out, 'BUNDLE_NO_INDEX');
    });

    it('an empty folder, or one holding only empty folders', async () => {
      const { dir, out } = webDir({});
      await expectRefusal(dir, out, 'BUNDLE_EMPTY');
      mkdirSync(join(dir, 'a', 'b'), { recursive: true });
      await expectRefusal(dir, out, 'BUNDLE_EMPTY');
    });

    it('an output path inside the folder', async () => {
      const { dir } = webDir(INDEX);
      await expectRefusal(dir, join(dir, 'bundle.zip'), 'INVALID_INPUT');
    });

    it('a folder that does not exist', async () => {
      await expectRefusal(join(tmp.path, 'nope'), join(tmp.path, 'nope.zip'), 'INVALID_INPUT');
    });

    it('and leaves an existing bundle at the output path untouched', async () => {
      const { dir, out } = webDir({ ...INDEX, 'bin.txt': Buffer.from('7f454c46', 'hex') });
      writeFileSync(out, 'previous bundle');
      await expect(buildBundle(dir, out)).rejects.toThrowWithCode('BUNDLE_NATIVE_CODE');
      expect(readFileSync(out, 'utf8')).toBe('previous bundle');
    });
  });
});
