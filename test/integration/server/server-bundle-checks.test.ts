import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createApproval,
  encryptBundle,
  rsaSignerFromPrivateKey,
  statementId,
  type RsaPrivateSigner,
} from '../../../src/core';
import type { BundleRef, ChannelStatus, Statement } from '../../../src/shared/schemas';
import {
  generateTestRsaKey,
  makeTempDir,
  writeRawZip,
  type RawZipEntry,
  type TempDir,
} from '../../helpers/bundle-fixtures';
import { DeviceSim, ReleaseDesk, makeEncryptedBundle } from '../../helpers/device-sim';
import {
  callApi,
  releaseStatement,
  startTestServer,
  testIdentity,
  type TestServer,
} from '../../helpers/server';

/**
 * The server checks what it serves itself, whoever built the bundle (ARCHITECTURE.md "The server
 * checks what it serves"): crafted archives go straight to the admin API, uploaded and proposed
 * by a member with a valid key, never through `airlock bundle build`. Each is refused, and nothing
 * becomes visible: no statement stored, the channel unchanged, the blob not served.
 */

const APP = 'com.example.checks';
const alice = testIdentity('bundle-checks proposer'); // TEST-ONLY
const bob = testIdentity('bundle-checks approver'); // TEST-ONLY
const key = generateTestRsaKey(); // TEST-ONLY bundle key
const ELF = Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0, ...Array<number>(56).fill(0)]);
const DEX = Buffer.from('dex\n035\0' + '\0'.repeat(100), 'latin1');
const MACHO = Buffer.from([0xcf, 0xfa, 0xed, 0xfe, 7, 0, 0, 1, ...Array<number>(56).fill(0)]);
const INDEX = { name: 'index.html', data: '<!doctype html><title>app</title>', deflate: true };
const DAY_MS = 24 * 60 * 60 * 1000;

let dir: TempDir;
let server: TestServer;
let desk: ReleaseDesk;
let signer: RsaPrivateSigner;
let count = 0;

beforeAll(async () => {
  dir = makeTempDir('airlock-bundle-checks-');
  server = await startTestServer({
    admins: [alice, bob],
    start: {
      releaseRules: {
        bundleLimits: {
          maxEntries: 50,
          maxUncompressedBytes: 512 * 1024 * 1024,
          maxCompressionRatio: 100,
        },
      },
    },
  });
  desk = new ReleaseDesk(() => server.url, alice, bob);
  signer = rsaSignerFromPrivateKey(key.privateKey);
  await desk.createApp(APP, key.publicKeyPem, [{ name: 'production' }]);
});

afterAll(async () => {
  await server.dispose();
  dir.cleanup();
});

/** Zips `entries` by hand, encrypts the zip like `bundle encrypt` does, uploads it. */
async function crafted(entries: readonly RawZipEntry[]): Promise<BundleRef> {
  count++;
  const zip = join(dir.path, `crafted-${count}.zip`);
  const enc = join(dir.path, `crafted-${count}.enc`);
  writeRawZip(zip, entries);
  const ref = await encryptBundle(zip, enc, signer);
  await desk.uploadBundle({ path: enc, info: ref });
  return ref;
}

async function channel(): Promise<ChannelStatus> {
  return desk.channelStatus(APP, 'production');
}

async function nextRelease(
  bundle: BundleRef,
  version: string,
  lifetimeMs = DAY_MS,
): Promise<Statement> {
  const status = await channel();
  return releaseStatement({
    app: APP,
    seq: status.seq + 1,
    prev: status.head,
    proposer: alice,
    version,
    bundle,
    expiresInMs: lifetimeMs,
  });
}

/** Submits with bob's approval; returns the answer. */
async function submit(statement: Statement): Promise<{ status: number; error: string }> {
  const approval = await createApproval(statement, bob);
  const answer = await callApi<{ error: string }>(server.url, '/api/v1/statements', {
    signer: alice,
    body: { statement, approvals: [approval] },
  });
  return { status: answer.status, error: answer.json.error };
}

/** Submit is refused with `code`; nothing about the statement or the bundle is visible. */
async function expectInvisible(bundle: BundleRef, version: string, code: string): Promise<void> {
  const before = await channel();
  const statement = await nextRelease(bundle, version);
  expect(await submit(statement)).toEqual({ status: 422, error: code });
  expect(await channel()).toEqual(before);
  const stored = await callApi(server.url, `/api/v1/statements/${statementId(statement)}`, {
    signer: alice,
  });
  expect(stored.status).toBe(404);
  expect((await fetch(`${server.url}/bundles/${bundle.encryptedSha256}`)).status).toBe(404);
}

describe('native code, by name and by content (app store rules)', () => {
  it('refuses an ELF shared library under lib/', async () => {
    const bundle = await crafted([INDEX, { name: 'lib/arm64-v8a/libevil.so', data: ELF }]);
    await expectInvisible(bundle, '2.0.0', 'BUNDLE_NATIVE_CODE');
  });

  it('refuses Android bytecode (classes.dex)', async () => {
    const bundle = await crafted([INDEX, { name: 'classes.dex', data: DEX, deflate: true }]);
    await expectInvisible(bundle, '2.0.1', 'BUNDLE_NATIVE_CODE');
  });

  it('refuses native code by content under a harmless name', async () => {
    for (const [name, data] of [
      ['assets/logo.png', MACHO],
      ['assets/data.bin', ELF],
      ['assets/font.woff2', DEX],
    ] as const) {
      const bundle = await crafted([INDEX, { name, data, deflate: true }]);
      await expectInvisible(bundle, '2.0.2', 'BUNDLE_NATIVE_CODE');
    }
  });

  it('refuses an Apple framework folder', async () => {
    const bundle = await crafted([INDEX, { name: 'Evil.framework/Info.plist', data: '<plist/>' }]);
    await expectInvisible(bundle, '2.0.3', 'BUNDLE_NATIVE_CODE');
  });
});

describe('zip limits', () => {
  it('refuses a zip bomb: 1 GiB of zeros in about 1 MB', async () => {
    const zeros = Buffer.alloc(1024 * 1024 * 1024);
    const bundle = await crafted([INDEX, { name: 'assets/zeros.bin', data: zeros, deflate: true }]);
    expect(bundle.encryptedSize).toBeLessThan(2 * 1024 * 1024);
    await expectInvisible(bundle, '2.1.0', 'BUNDLE_LIMIT_EXCEEDED');
  }, 60_000);

  it('refuses an archive whose headers understate what it unpacks to', async () => {
    const big = Buffer.alloc(20 * 1024 * 1024, 0x61);
    const bundle = await crafted([
      INDEX,
      { name: 'assets/a.txt', data: big, deflate: true, declared: { size: 1024, crc32: 1 } },
    ]);
    await expectInvisible(bundle, '2.1.1', 'ZIP_INVALID');
  });

  it('refuses more entries than the server allows (50 here)', async () => {
    const many = Array.from({ length: 60 }, (_, i) => ({ name: `assets/${i}.js`, data: `${i}` }));
    const bundle = await crafted([INDEX, ...many]);
    await expectInvisible(bundle, '2.1.2', 'BUNDLE_LIMIT_EXCEEDED');
  });

  it('refuses at push a bundle uploaded only after its statement was submitted', async () => {
    count++;
    const zip = join(dir.path, `late-${count}.zip`);
    const enc = join(dir.path, `late-${count}.enc`);
    writeRawZip(zip, [INDEX, { name: 'lib/x86_64/libevil.so', data: ELF }]);
    const bundle = await encryptBundle(zip, enc, signer);
    const statement = await nextRelease(bundle, '2.1.3');
    const before = await channel();
    expect((await submit(statement)).status).toBe(201);
    await desk.uploadBundle({ path: enc, info: bundle });
    const pushed = await callApi<{ error: string }>(
      server.url,
      `/api/v1/statements/${statementId(statement)}/push`,
      { signer: alice, body: { approvals: [] } },
    );
    expect(pushed.status).toBe(422);
    expect(pushed.json.error).toBe('BUNDLE_NATIVE_CODE');
    expect(await channel()).toEqual(before);
    expect((await fetch(`${server.url}/bundles/${bundle.encryptedSha256}`)).status).toBe(404);
  });
});

describe('statement lifetime and blobs no statement names', () => {
  it('refuses a statement valid for 400 days', async () => {
    const good = await makeEncryptedBundle(dir.path, signer, 'lifetime');
    await desk.uploadBundle(good);
    const statement = await nextRelease(good.info, '3.0.0', 400 * DAY_MS);
    expect(await submit(statement)).toEqual({ status: 422, error: 'STATEMENT_LIFETIME_TOO_LONG' });
  });

  it('does not serve an uploaded blob that no statement names', async () => {
    const blob = await makeEncryptedBundle(dir.path, signer, 'orphan');
    await desk.uploadBundle(blob);
    expect(readFileSync(blob.path).length).toBe(blob.info.encryptedSize);
    expect((await fetch(`${server.url}/bundles/${blob.info.encryptedSha256}`)).status).toBe(404);
  });

  it('serves a checked release it applied', async () => {
    const good = await makeEncryptedBundle(dir.path, signer, 'good');
    await desk.release(APP, 'production', '3.0.1', good);
    expect((await fetch(`${server.url}/bundles/${good.info.encryptedSha256}`)).status).toBe(200);
  });
});

describe('a channel with a bundle key of its own (channels are not access control)', () => {
  const own = generateTestRsaKey(); // TEST-ONLY: the enterprise builds' key

  it('takes only releases encrypted for its key, and devices with the app key get key_id_mismatch', async () => {
    await desk.call('POST', `/apps/${APP}/channels`, {
      name: 'enterprise',
      bundlePublicKey: own.publicKeyPem,
    });
    const appKeyBundle = await makeEncryptedBundle(dir.path, signer, 'wrong-key');
    await expect(desk.release(APP, 'enterprise', '1.1.0', appKeyBundle)).rejects.toThrow(
      /BUNDLE_MISMATCH/,
    );
    const ownSigner = rsaSignerFromPrivateKey(own.privateKey);
    const ownBundle = await makeEncryptedBundle(dir.path, ownSigner, 'own-key');
    await desk.release(APP, 'enterprise', '1.1.0', ownBundle);
    const publicBuild = new DeviceSim({
      baseUrl: server.url,
      appId: APP,
      publicKeyPem: key.publicKeyPem,
      defaultChannel: 'enterprise',
    });
    expect(await publicBuild.update()).toMatchObject({
      result: 'no_update',
      error: 'key_id_mismatch',
    });
    const enterpriseBuild = new DeviceSim({
      baseUrl: server.url,
      appId: APP,
      publicKeyPem: own.publicKeyPem,
      defaultChannel: 'enterprise',
    });
    expect(await enterpriseBuild.update()).toMatchObject({ result: 'installed', version: '1.1.0' });
  });
});
