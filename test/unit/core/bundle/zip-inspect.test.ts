import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  DEFAULT_BUNDLE_LIMITS,
  buildBundle,
  inspectBundleZip,
  readZipDirectory,
  type BundleLimits,
} from '../../../../src/core/bundle';
import {
  makeTempDir,
  sampleWebBuild,
  writeRawZip,
  writeTree,
  type RawZipEntry,
  type TempDir,
} from '../../../helpers/bundle-fixtures';

/** The server's own check of a bundle's contents (src/core/bundle/zip-inspect.ts). */

const INDEX: RawZipEntry = { name: 'index.html', data: '<!doctype html>', deflate: true };
let dir: TempDir;

beforeEach(() => {
  dir = makeTempDir('airlock-zip-inspect-');
});

afterEach(() => {
  dir.cleanup();
});

async function inspectBundle(
  entries: readonly RawZipEntry[],
  limits: BundleLimits = DEFAULT_BUNDLE_LIMITS,
): Promise<unknown> {
  const zip = join(dir.path, 'b.zip');
  writeRawZip(zip, entries);
  return inspectBundleZip(zip, await readZipDirectory(zip), limits);
}

describe('#inspectBundleZip', () => {
  it('passes a web build made by bundle build (empty files and stored entries included)', async () => {
    writeTree(join(dir.path, 'www'), sampleWebBuild());
    await buildBundle(join(dir.path, 'www'), join(dir.path, 'ok.zip'));
    const zip = join(dir.path, 'ok.zip');
    await expect(
      inspectBundleZip(zip, await readZipDirectory(zip), DEFAULT_BUNDLE_LIMITS),
    ).resolves.not.toThrow();
  });

  it('refuses native code by the name of a file or of a folder above it', async () => {
    await expect(
      inspectBundle([INDEX, { name: 'libs/libfoo.so.1', data: 'x' }]),
    ).rejects.toThrowWithCode('BUNDLE_NATIVE_CODE');
    await expect(
      inspectBundle([INDEX, { name: 'App.framework/App', data: 'x' }]),
    ).rejects.toThrowWithCode('BUNDLE_NATIVE_CODE');
    await expect(inspectBundle([INDEX, { name: 'a/b/c.jar', data: 'x' }])).rejects.toThrowWithCode(
      'BUNDLE_NATIVE_CODE',
    );
  });

  it('refuses native code by its first bytes, whatever it is called, stored or deflated', async () => {
    const elf = Buffer.from([0x7f, 0x45, 0x4c, 0x46, 1, 2, 3, 4]);
    await expect(inspectBundle([INDEX, { name: 'img/a.png', data: elf }])).rejects.toThrowWithCode(
      'BUNDLE_NATIVE_CODE',
    );
    await expect(
      inspectBundle([INDEX, { name: 'img/a.png', data: elf, deflate: true }]),
    ).rejects.toThrowWithCode('BUNDLE_NATIVE_CODE');
  });

  it('refuses more entries, more unpacked bytes or a higher ratio than allowed', async () => {
    const small: BundleLimits = {
      maxEntries: 3,
      maxUncompressedBytes: 1000,
      maxCompressionRatio: 5,
    };
    const four = ['a', 'b', 'c'].map((name) => ({ name: `${name}.js`, data: name }));
    await expect(inspectBundle([INDEX, ...four], small)).rejects.toThrowWithCode(
      'BUNDLE_LIMIT_EXCEEDED',
    );
    await expect(
      inspectBundle([INDEX, { name: 'big.txt', data: 'x'.repeat(2000) }], small),
    ).rejects.toThrowWithCode('BUNDLE_LIMIT_EXCEEDED');
    const roomy = { ...small, maxUncompressedBytes: 1_000_000 };
    await expect(
      inspectBundle(
        [INDEX, { name: 'zeros.txt', data: '\0'.repeat(100_000), deflate: true }],
        roomy,
      ),
    ).rejects.toThrowWithCode('BUNDLE_LIMIT_EXCEEDED');
  });

  it('refuses headers that understate the data, or a wrong CRC-32', async () => {
    // Incompressible bytes: the ratio limit stays out of the way of the size checks.
    const data = randomBytes(50_000);
    await expect(
      inspectBundle([
        INDEX,
        { name: 'lie.txt', data, deflate: true, declared: { size: 10, crc32: 0 } },
      ]),
    ).rejects.toThrowWithCode('ZIP_INVALID');
    await expect(
      inspectBundle([
        INDEX,
        { name: 'lie.txt', data, deflate: true, declared: { size: 60_000, crc32: 0 } },
      ]),
    ).rejects.toThrowWithCode('ZIP_INVALID');
    await expect(
      inspectBundle([INDEX, { name: 'crc.txt', data: 'abc', declared: { size: 3, crc32: 12345 } }]),
    ).rejects.toThrowWithCode('ZIP_INVALID');
  });

  it('refuses data that is not deflate', async () => {
    await expect(
      inspectBundle([
        INDEX,
        { name: 'x.js', data: Buffer.from([0xff, 0xff, 0xff, 0xff]), method: 8 },
      ]),
    ).rejects.toThrowWithCode('ZIP_INVALID');
  });
});
