import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readZipDirectory, writeZip, type ZipSource } from '../../../../src/core/bundle';
import { makeTempDir, pythonZipList, unzipTest } from '../../../helpers/bundle-fixtures';

const tmp = makeTempDir('airlock-zip-writer-');
afterAll(() => tmp.cleanup());

const sha = (data: Uint8Array | string): string => createHash('sha256').update(data).digest('hex');
const text = (n: number): string =>
  Array.from({ length: n }, (_, i) => `function f${i % 97}(a){return a+${i % 13}};`).join('');

describe('#writeZip', () => {
  const sources: ZipSource[] = [
    { name: 'index.html', data: Buffer.from('<!doctype html><title>t</title>') },
    { name: 'assets/app.js', data: Buffer.from(text(2000)) },
    { name: 'assets/blob.bin', data: randomBytes(100_000) },
    { name: 'assets/empty.txt', data: new Uint8Array() },
    { name: 'données/é.json', data: Buffer.from('{"a":1}') },
  ];

  it('writes an archive that unzip -t and Python read back byte for byte', async () => {
    const out = join(tmp.path, 'roundtrip.zip');
    const result = await writeZip(sources, out);
    expect(unzipTest(out).status).toBe(0);
    const listed = pythonZipList(out);
    expect(listed.map((e) => e.name)).toEqual([
      'assets/app.js',
      'assets/blob.bin',
      'assets/empty.txt',
      'données/é.json',
      'index.html',
    ]);
    for (const entry of listed) {
      const source = sources.find((s) => s.name === entry.name);
      if (!source || !('data' in source)) throw new Error(`unexpected ${entry.name}`);
      expect(entry.sha256).toBe(sha(source.data));
    }
    expect(result).toEqual({
      sha256: sha(readFileSync(out)),
      size: readFileSync(out).length,
      files: 5,
    });
  });

  it('normalizes every header field: 1980-01-01, 0644, UNIX host, UTF-8 flag, no extras', async () => {
    const out = join(tmp.path, 'fields.zip');
    await writeZip(sources, out);
    for (const entry of pythonZipList(out)) {
      expect(entry.date).toEqual([1980, 1, 1, 0, 0, 0]);
      expect(entry.mode).toBe(0o100644);
      expect(entry.createSystem).toBe(3);
      expect(entry.flags).toBe(0x800);
      expect(entry.extraLength).toBe(0);
    }
  });

  it('deflates text, and stores random bytes and empty files', async () => {
    const out = join(tmp.path, 'methods.zip');
    await writeZip(sources, out);
    const methods = Object.fromEntries(pythonZipList(out).map((e) => [e.name, e.method]));
    expect(methods).toMatchObject({
      'assets/app.js': 8,
      'assets/blob.bin': 0,
      'assets/empty.txt': 0,
      'index.html': 8,
    });
  });

  it('sorts by the bytes of the UTF-8 names, not by UTF-16 code units', async () => {
    const out = join(tmp.path, 'order.zip');
    const names = ['😀', 'ﬀ', 'a/b', 'é', 'a.b', 'Z'];
    await writeZip(
      names.map((name) => ({ name, data: Buffer.from(name) })),
      out,
    );
    const listed = (await readZipDirectory(out)).entries.map((e) => e.name);
    expect(listed).toEqual(['Z', 'a.b', 'a/b', 'é', 'ﬀ', '😀']);
  });

  it('gives identical bytes whatever the order of the input', async () => {
    const a = join(tmp.path, 'order-a.zip');
    const b = join(tmp.path, 'order-b.zip');
    const first = await writeZip(sources, a);
    const second = await writeZip([...sources].reverse(), b);
    expect(second.sha256).toBe(first.sha256);
    expect(readFileSync(b).equals(readFileSync(a))).toBe(true);
  });

  it('reads files from disk and reports each entry in order', async () => {
    const dir = join(tmp.path, 'disk');
    const file = join(tmp.path, 'disk.js');
    writeFileSync(file, text(100));
    const done: number[] = [];
    const out = `${dir}.zip`;
    await writeZip(
      [
        { name: 'a.js', file, size: 0 },
        { name: 'b.txt', data: Buffer.from('b') },
      ],
      out,
      {
        onEntry: (n, total) => done.push(n * 10 + total),
      },
    );
    expect(done).toEqual([12, 22]);
    expect(pythonZipList(out)[0]?.sha256).toBe(sha(readFileSync(file)));
  });

  it('streams files above 16 MiB: deflated when compressible, stored when not', async () => {
    const big = join(tmp.path, 'big-text.js');
    const noise = join(tmp.path, 'big-noise.bin');
    writeFileSync(big, text(500_000)); // ~19 MiB
    writeFileSync(noise, randomBytes(17 * 1024 * 1024));
    const out = join(tmp.path, 'big.zip');
    const before = readdirSync(tmp.path).length;
    await writeZip(
      [
        { name: 'big.js', file: big, size: readFileSync(big).length },
        { name: 'noise.bin', file: noise, size: 17 * 1024 * 1024 },
        { name: 'index.html', data: Buffer.from('<p>') },
      ],
      out,
    );
    const listed = pythonZipList(out);
    expect(listed.map((e) => [e.name, e.method])).toEqual([
      ['big.js', 8],
      ['index.html', 0], // 3 bytes: deflate would add bytes
      ['noise.bin', 0],
    ]);
    expect(listed[0]?.sha256).toBe(sha(readFileSync(big)));
    expect(listed[2]?.sha256).toBe(sha(readFileSync(noise)));
    expect(listed[0]?.compressedSize).toBeLessThan(listed[0]?.size ?? 0);
    expect(readdirSync(tmp.path).length).toBe(before + 1); // no scratch file left behind
  }, 30_000);

  it('passes each entry to inspect and stops at what it throws', async () => {
    const seen: string[] = [];
    const failure = Object.assign(new Error('refused'), { code: 'BUNDLE_NATIVE_CODE' });
    await expect(
      writeZip(sources, join(tmp.path, 'inspect.zip'), {
        inspect: (name, head) => {
          seen.push(`${name}:${head.length}`);
          if (name === 'assets/blob.bin') throw failure;
        },
      }),
    ).rejects.toThrowWithCode('BUNDLE_NATIVE_CODE');
    expect(seen).toContain('assets/blob.bin:100000');
  });

  it('refuses more than 65534 entries (ZIP32) with BUNDLE_TOO_LARGE', async () => {
    const many = Array.from({ length: 65_535 }, (_, i) => ({
      name: `f${i}`,
      data: new Uint8Array(),
    }));
    await expect(writeZip(many, join(tmp.path, 'many.zip'))).rejects.toThrowWithCode(
      'BUNDLE_TOO_LARGE',
    );
  });

  it('accepts exactly 65534 entries', async () => {
    const many = Array.from({ length: 65_534 }, (_, i) => ({
      name: `f${i}`,
      data: new Uint8Array(),
    }));
    const result = await writeZip(many, join(tmp.path, 'max.zip'));
    expect(result.files).toBe(65_534);
    expect((await readZipDirectory(join(tmp.path, 'max.zip'))).entries).toHaveLength(65_534);
  }, 30_000);

  it('refuses a file size beyond 4 GiB with BUNDLE_TOO_LARGE before reading it', async () => {
    const source = { name: 'huge.bin', file: '/nonexistent', size: 2 ** 32 };
    await expect(writeZip([source], join(tmp.path, 'huge.zip'))).rejects.toThrowWithCode(
      'BUNDLE_TOO_LARGE',
    );
  });

  it('refuses the same name twice with INVALID_INPUT', async () => {
    const twice = [
      { name: 'a', data: Buffer.from('1') },
      { name: 'a', data: Buffer.from('2') },
    ];
    await expect(writeZip(twice, join(tmp.path, 'dup.zip'))).rejects.toThrowWithCode(
      'INVALID_INPUT',
    );
  });

  it('reports a missing source file as IO_ERROR', async () => {
    const missing = { name: 'gone.js', file: join(tmp.path, 'gone.js'), size: 1 };
    await expect(writeZip([missing], join(tmp.path, 'gone.zip'))).rejects.toThrowWithCode(
      'IO_ERROR',
    );
  });
});
