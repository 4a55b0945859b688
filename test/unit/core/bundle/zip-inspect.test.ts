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
  rejectionCode,
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

async function inspect(
  entries: readonly RawZipEntry[],
  limits: BundleLimits = DEFAULT_BUNDLE_LIMITS,
): Promise<string> {
  const zip = join(dir.path, 'b.zip');
  writeRawZip(zip, entries);
  return rejectionCode(inspectBundleZip(zip, await readZipDirectory(zip), limits));
}

describe('#inspectBundleZip', () => {
  it('passes a web build made by bundle build (empty files and stored entries included)', async () => {
    writeTree(join(dir.path, 'www'), sampleWebBuild());
    await buildBundle(join(dir.path, 'www'), join(dir.path, 'ok.zip'));
    const zip = join(dir.path, 'ok.zip');
    expect(
      await rejectionCode(
        inspectBundleZip(zip, await readZipDirectory(zip), DEFAULT_BUNDLE_LIMITS),
      ),
    ).toBe('no error');
  });

  it('refuses native code by the name of a file or of a folder above it', async () => {
    expect(await inspect([INDEX, { name: 'libs/libfoo.so.1', data: 'x' }])).toBe(
      'BUNDLE_NATIVE_CODE',
    );
    expect(await inspect([INDEX, { name: 'App.framework/App', data: 'x' }])).toBe(
      'BUNDLE_NATIVE_CODE',
    );
    expect(await inspect([INDEX, { name: 'a/b/c.jar', data: 'x' }])).toBe('BUNDLE_NATIVE_CODE');
  });

  it('refuses native code by its first bytes, whatever it is called, stored or deflated', async () => {
    const elf = Buffer.from([0x7f, 0x45, 0x4c, 0x46, 1, 2, 3, 4]);
    expect(await inspect([INDEX, { name: 'img/a.png', data: elf }])).toBe('BUNDLE_NATIVE_CODE');
    expect(await inspect([INDEX, { name: 'img/a.png', data: elf, deflate: true }])).toBe(
      'BUNDLE_NATIVE_CODE',
    );
  });

  it('refuses more entries, more unpacked bytes or a higher ratio than allowed', async () => {
    const small: BundleLimits = {
      maxEntries: 3,
      maxUncompressedBytes: 1000,
      maxCompressionRatio: 5,
    };
    const four = ['a', 'b', 'c'].map((name) => ({ name: `${name}.js`, data: name }));
    expect(await inspect([INDEX, ...four], small)).toBe('BUNDLE_LIMIT_EXCEEDED');
    expect(await inspect([INDEX, { name: 'big.txt', data: 'x'.repeat(2000) }], small)).toBe(
      'BUNDLE_LIMIT_EXCEEDED',
    );
    const roomy = { ...small, maxUncompressedBytes: 1_000_000 };
    expect(
      await inspect(
        [INDEX, { name: 'zeros.txt', data: '\0'.repeat(100_000), deflate: true }],
        roomy,
      ),
    ).toBe('BUNDLE_LIMIT_EXCEEDED');
  });

  it('refuses headers that understate the data, or a wrong CRC-32', async () => {
    // Incompressible bytes: the ratio limit stays out of the way of the size checks.
    const data = randomBytes(50_000);
    expect(
      await inspect([
        INDEX,
        { name: 'lie.txt', data, deflate: true, declared: { size: 10, crc32: 0 } },
      ]),
    ).toBe('ZIP_INVALID');
    expect(
      await inspect([
        INDEX,
        { name: 'lie.txt', data, deflate: true, declared: { size: 60_000, crc32: 0 } },
      ]),
    ).toBe('ZIP_INVALID');
    expect(
      await inspect([INDEX, { name: 'crc.txt', data: 'abc', declared: { size: 3, crc32: 12345 } }]),
    ).toBe('ZIP_INVALID');
  });

  it('refuses data that is not deflate', async () => {
    expect(
      await inspect([
        INDEX,
        { name: 'x.js', data: Buffer.from([0xff, 0xff, 0xff, 0xff]), method: 8 },
      ]),
    ).toBe('ZIP_INVALID');
  });
});
