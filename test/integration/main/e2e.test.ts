import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Locator } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatFingerprint } from '../../../src/core/crypto';
import { SigningRequestSchema } from '../../../src/shared/schemas/airgap';
import {
  confirmInDialog,
  makeConsole,
  openWindow,
  shownText,
  signingOfficerPolicy,
  type ConsoleWindow,
  type TestConsole,
} from '../../e2e/console-window';
import { sampleWebBuild, writeTree } from '../../helpers/bundle-fixtures';
import { DeviceSim } from '../../helpers/device-sim';
import { addMembers, callApi, startTestServer, type TestServer } from '../../helpers/server';

/**
 * Issue 5's end-to-end run (ARCHITECTURE.md §5, §7, §10), every step a person takes done in the window:
 * the built renderer in Debian's Chromium, through the loopback bridge, on the real handlers,
 * keychain and SQLite, against `airlock server start` (the built CLI) on loopback.
 *
 * Two identities with their own data directories and windows: Pat (release manager, online) and
 * Olga (signing officer, air-gapped: her console never connects to anything). Pat starts from a
 * first run, creates his keys and connects; the test plays the server operator who adds Olga as a
 * member and creates the app. Pat builds a web folder into a release and proposes it with a
 * signing request; Olga approves it from the file; Pat imports her approval, which pushes; a
 * simulated phone installs it. After a second release, Pat rolls back from the history, Olga
 * approves again by file, and the phone goes back to the first release.
 * Screenshots: test-results/screenshots/e2e-*.png.
 */

const APP = 'com.example.e2e';
const CHANNEL = 'production';

let work: string;
let webDir: string;
let pat: TestConsole;
let olga: TestConsole;
let patWindow: ConsoleWindow;
let olgaWindow: ConsoleWindow;
let server: TestServer;
let phone: DeviceSim;
let bundlePublicKey = '';
let olgaKeyId = '';

/** Creates a key on the Keys screen of `window`; returns its row. */
async function createKey(
  window: ConsoleWindow,
  type: 'identity' | 'bundle',
  label: string,
): Promise<Locator> {
  const { page } = window;
  await window.open('Keys');
  await page.getByLabel('Type').selectOption(type);
  await page.getByLabel('Label (optional)').fill(label);
  await page
    .getByRole('button', {
      name: type === 'identity' ? 'Create identity key' : 'Create bundle key',
    })
    .click();
  const row = page
    .getByRole('table', { name: 'Keys' })
    .getByRole('row', { name: new RegExp(label) });
  await row.waitFor();
  return row;
}

/**
 * Olga, offline in her own window, reviews the request file, approves, and saves the approval
 * file; returns its path. The first request pins the server on her console (after she typed the
 * fingerprint she was given); later ones match the pin.
 */
let olgaPinned = false;
async function olgaApproves(
  requestPath: string,
  title: string | RegExp,
  expect_: { typed?: string; files?: readonly string[] } = {},
): Promise<string> {
  const page = olgaWindow.page;
  await olgaWindow.open('Approvals');
  await page.getByLabel('Review a signing request').setInputFiles(requestPath);
  const review = page.getByRole('article', {
    name: typeof title === 'string' ? `Signing request: ${title}` : title,
  });
  await review.waitFor();
  await expect.poll(() => review.textContent()).toMatch(/0\/1 approvals/);
  const fingerprint = review.getByLabel('Server fingerprint from your administrator');
  if (olgaPinned) {
    await expect.poll(() => review.textContent()).toContain('Matches the pinned trust root');
    expect(await fingerprint.count()).toBe(0);
  } else {
    // Olga's console never saw the server: she types the fingerprint Pat's admin gave her.
    await fingerprint.fill(formatFingerprint(server.rootId));
    olgaPinned = true;
  }
  // What is signed comes first: both hashes, and the files by name.
  await shownText(review, 'Content SHA-256', 'Encrypted SHA-256', ...(expect_.files ?? []));
  const { path } = await olgaWindow.download(
    async () => {
      await review.getByRole('button', { name: 'Approve and save approval file' }).click();
      // The dialog names the key; on this signing-officer channel Olga types the version.
      const dialog = olgaWindow.page.getByRole('alertdialog');
      await dialog.waitFor();
      await expect.poll(() => dialog.textContent()).toContain(formatFingerprint(olgaKeyId));
      await confirmInDialog(olgaWindow.page, 'Sign', expect_.typed);
    },
    join(work, 'downloads'),
  );
  await review.getByText(/Approval saved as .*With it: 1\/1 approvals/).waitFor();
  return path;
}

/** Pat imports an approval file; the policy is met, Pat confirms, and the push goes out. */
async function patImports(approvalPath: string, typed?: string): Promise<void> {
  const page = patWindow.page;
  await patWindow.open('Approvals');
  await page.getByLabel('Import an approval file').setInputFiles(approvalPath);
  const result = page.locator('.import-result');
  await result.waitFor();
  await expect.poll(() => result.textContent()).toMatch(/1\/1 approvals.*can be pushed now/);
  // The push waits for Pat to confirm it: asked, never automatic.
  await result.getByRole('button', { name: /^Push to / }).click();
  await confirmInDialog(page, 'Push', typed);
  await expect.poll(() => result.textContent()).toMatch(/Pushed: the server applied it as #\d+/);
}

/**
 * Pat, on New release: picks the folder, builds and encrypts, proposes `version` with a signing
 * request, and saves the request; returns its path.
 */
async function patProposesRelease(version: string): Promise<string> {
  const page = patWindow.page;
  await patWindow.open('New release');
  await page.getByRole('button', { name: 'Choose web build folder' }).click();
  await page.getByText(webDir, { exact: true }).waitFor();
  await page.getByRole('button', { name: 'Build and encrypt' }).click();
  await page.locator('.bundle-info').waitFor();
  await page.getByRole('combobox', { name: /^Channel/ }).selectOption({ index: 0 });
  await page.getByLabel('Version', { exact: true }).fill(version);
  // Production starts small by default (10 %); this phone must get it.
  expect(await page.getByLabel('Rollout percent', { exact: true }).inputValue()).toBe('10');
  await page.getByLabel('Rollout percent', { exact: true }).fill('100');
  await page.getByLabel('Also export a signing request for offline approvers').check();
  await page.getByRole('button', { name: 'Propose release' }).click();
  const card = page.getByRole('region', { name: new RegExp(`Proposed: .*${version}`) });
  await card.waitFor();
  await expect.poll(() => card.textContent()).toMatch(/0\/1 approvals/);
  const { path } = await patWindow.download(
    () => card.getByRole('button', { name: 'Save signing request' }).click(),
    join(work, 'downloads'),
  );
  return path;
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'airlock-e2e-'));
  mkdirSync(join(work, 'downloads'));
  webDir = join(work, 'www');
  writeTree(webDir, sampleWebBuild());
  pat = makeConsole(work, 'e2e-pat', () => webDir);
  olga = makeConsole(work, 'e2e-olga', () => null);
  patWindow = await openWindow(pat);
  olgaWindow = await openWindow(olga);
});

afterAll(async () => {
  await patWindow?.close();
  await olgaWindow?.close();
  await server?.dispose();
  await pat?.dispose();
  await olga?.dispose();
  rmSync(work, { recursive: true, force: true });
});

describe('two identities, from first run to a rollback a phone receives', () => {
  it('first run: each person creates an identity key; Pat also a bundle key', async () => {
    await patWindow.page.getByText('Welcome to Airlock').waitFor();
    await patWindow.shoot('e2e-first-run');
    await createKey(patWindow, 'identity', 'Pat');
    const bundleRow = await createKey(patWindow, 'bundle', 'e2e app');
    await expect.poll(() => bundleRow.textContent()).toContain('bundle');
    await olgaWindow.page.getByText('Welcome to Airlock').waitFor();
    const olgaRow = await createKey(olgaWindow, 'identity', 'Olga');
    // Olga hands her public key to the server's admin, out of band.
    await olgaRow.getByRole('button', { name: 'Export public key' }).click();
    const olgaPublicHex = await olgaWindow.page.getByLabel('Public key (hex)').inputValue();
    expect(olgaPublicHex).toMatch(/^[0-9a-f]{64}$/);

    // The server operator: `airlock server init --admin <Pat>`, then adds Olga and the app.
    const [patKey] = (await pat.keys.list()).filter((key) => key.type === 'identity');
    const [bundleKey] = (await pat.keys.list()).filter((key) => key.type === 'bundle');
    const [olgaKey] = await olga.keys.list();
    const admin = await pat.keys.identitySigner(patKey?.keyId ?? '');
    const officer = await olga.keys.identitySigner(olgaKey?.keyId ?? '');
    expect(Buffer.from(officer.publicKey).toString('hex')).toBe(olgaPublicHex);
    server = await startTestServer({ admins: [admin], spawn: true });
    // Releases on production need the signing officer (so signing and pushing are typed).
    await addMembers(
      server.url,
      [admin],
      [{ signer: officer, roles: ['signing_officer'], name: 'Olga' }],
      undefined,
      [signingOfficerPolicy(APP, CHANNEL)],
    );
    olgaKeyId = officer.keyId;
    bundlePublicKey = bundleKey?.publicKey ?? '';
    const created = await callApi(server.url, '/api/v1/apps', {
      signer: admin,
      body: { app: APP, channels: [{ name: CHANNEL }], bundlePublicKey },
    });
    expect(created.status).toBe(201);
  });

  it('Pat connects and compares the trust-root fingerprint', async () => {
    const page = patWindow.page;
    await patWindow.open('Servers');
    await page.getByLabel('Server URL').fill(server.url);
    await page.getByRole('button', { name: 'Connect' }).click();
    const fingerprint = page.getByLabel('Trust root fingerprint');
    await fingerprint.waitFor();
    expect(await fingerprint.inputValue()).toBe(formatFingerprint(server.rootId));
    await page
      .getByRole('table', { name: 'Servers' })
      .getByText('Olga (Signing officer)')
      .waitFor();
    await expect.poll(() => page.getByRole('status').first().textContent()).toBe('Online');
  });

  it('Pat builds and proposes 1.0.0; Olga approves it by file; the import pushes it; a phone installs it', async () => {
    const request = await patProposesRelease('1.0.0');
    await patWindow.shoot('e2e-new-release');
    const file = SigningRequestSchema.parse(JSON.parse(readFileSync(request, 'utf8')));
    expect(file.statement).toMatchObject({ kind: 'release', release: { version: '1.0.0' } });

    const approval = await olgaApproves(request, `Release 1.0.0 at 100% · ${APP}/${CHANNEL}`, {
      typed: '1.0.0',
      files: ['+ index.html'],
    });
    await olgaWindow.shoot('e2e-officer-review');
    await patImports(approval, '1.0.0');
    await patWindow.shoot('e2e-import');

    // A phone from the 0.9.0 store build: its builtin web code is older than any release.
    phone = new DeviceSim({
      baseUrl: server.url,
      appId: APP,
      publicKeyPem: bundlePublicKey,
      versionBuild: '0.9.0',
    });
    expect(await phone.update()).toMatchObject({ result: 'installed', version: '1.0.0' });
  });

  it('a second release reaches the phone the same way', async () => {
    writeTree(webDir, { ...sampleWebBuild(), 'index.html': '<!doctype html><p>1.0.1</p>' });
    const request = await patProposesRelease('1.0.1');
    const approval = await olgaApproves(request, `Release 1.0.1 at 100% · ${APP}/${CHANNEL}`, {
      typed: '1.0.1',
      files: ['~ index.html'],
    });
    await patImports(approval, '1.0.1');
    expect(await phone.update()).toMatchObject({ result: 'installed', version: '1.0.1' });
  });

  it('Pat rolls back to 1.0.0 from the history; after Olga approves, the phone goes back to 1.0.0', async () => {
    const page = patWindow.page;
    await patWindow.open('Release history');
    await page.getByText('2 statements, newest first').waitFor();
    await page.getByRole('button', { name: 'Roll back to 1.0.0' }).click();
    const dialog = page.getByRole('alertdialog');
    await dialog.waitFor();
    await dialog.getByLabel('Also export a signing request for offline approvers').check();
    await patWindow.shoot('e2e-rollback');
    await dialog.getByRole('button', { name: 'Propose rollback' }).click();
    const card = page.getByRole('region', { name: /Proposed: Rollback of .* to 1\.0\.0/ });
    await card.waitFor();
    const { path: request } = await patWindow.download(
      () => card.getByRole('button', { name: 'Save signing request' }).click(),
      join(work, 'downloads'),
    );

    const approval = await olgaApproves(request, /^Signing request: Rollback to [0-9a-f]{12}…/);
    await patImports(approval);

    expect(await phone.update()).toMatchObject({ result: 'installed', version: '1.0.0' });
    await patWindow.open('Release history');
    await page.getByText('3 statements, newest first').waitFor();
    await patWindow.open('Apps and channels');
    const row = page.getByRole('table', { name: 'Channels' }).getByRole('row', { name: /e2e/ });
    await expect.poll(() => row.first().textContent()).toMatch(/Rolled back1\.0\.0/);
    await patWindow.shoot('e2e-rolled-back');
  });

  it('left no errors in either window, and both audit trails verify', async () => {
    expect(patWindow.consoleErrors).toEqual([]);
    expect(olgaWindow.consoleErrors).toEqual([]);
    for (const window of [patWindow, olgaWindow]) {
      await window.open('Audit log');
      await window.page.getByRole('button', { name: 'Verify chain' }).click();
      await window.page.getByText(/The chain is intact: \d+ entries/).waitFor();
    }
  });
});
