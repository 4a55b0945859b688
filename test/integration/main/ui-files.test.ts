import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatFingerprint } from '../../../src/core/crypto';
import { APPROVAL_FILE_FORMAT, SigningRequestSchema } from '../../../src/shared/schemas';
import {
  call,
  confirmInDialog,
  makeConsole,
  openWindow,
  setUpTeam,
  signingOfficerPolicy,
  type ConsoleWindow,
  type Team,
  type TestConsole,
  shownText,
} from '../../e2e/console-window';
import { startTestServer } from '../../helpers/server';

/**
 * The console's Members and policies screen, key backup and restore on the Keys screen, and the
 * air-gapped request/approval files on the Approvals screen (ARCHITECTURE.md §4, §5, §7), each in Debian's
 * Chromium against the real handlers (real SQLite, real throwaway keychain) and a real server on
 * loopback. Three consoles, each with its own data directory and keychain service: Pat proposes
 * (admin, the main window), Olga approves air-gapped in her own window (signing officer, never
 * connects), and a fresh third console restores Pat's key backup. Files travel as real downloads
 * and real file-input uploads. Screenshots: members, keys-backup, approval-review.
 */

const APP = 'com.example.files';
const CHANNEL = 'production';
const PASSPHRASE = 'correct horse battery staple';

let work: string;
let team: Team;
let pat: TestConsole;
let olga: TestConsole;
let spare: TestConsole;
let patWindow: ConsoleWindow;
let page: Page;
const windows: ConsoleWindow[] = [];
let patKey = '';
let olgaKey = '';
let url = '';
/** Where the windows' downloads are saved. */
let downloads = '';
/** The signing request Pat exported for 1.0.0, for the forgeries. */
let requestContent = '';

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'airlock-ui-files-'));
  downloads = join(work, 'downloads');
  // Olga never connects: she approves air-gapped, by file.
  team = await setUpTeam(work, {
    app: APP,
    channels: [CHANNEL],
    names: { user: 'files-pat', officer: 'files-olga' },
    labels: { user: 'Pat', officer: 'Olga' },
    policies: [signingOfficerPolicy(APP, CHANNEL)],
    connect: { officer: false },
  });
  ({ user: pat, officer: olga, userKey: patKey, officerKey: olgaKey, url } = team);
  spare = makeConsole(work, 'files-spare', () => team.webDir);
  patWindow = await openWindow(pat);
  windows.push(patWindow);
  page = patWindow.page;
});

afterAll(async () => {
  for (const window of windows) await window.close();
  await team?.dispose();
  await spare?.dispose();
  rmSync(work, { recursive: true, force: true });
});

describe('members, key backups and request/approval files in the console window', () => {
  it('lists the members with their roles, marks the user, and states the policies in words', async () => {
    await patWindow.open('Members and policies');
    const card = page.getByRole('article', { name: url });
    await card.waitFor();
    const { servers } = await call(pat, 'servers:list', {});
    await shownText(
      card.locator('dl'),
      'Version 2',
      servers[0]?.fingerprint ?? 'a fingerprint',
      '1 admin signature',
    );

    const members = page.getByRole('table', { name: `Members of ${url}` });
    const patRow = members.getByRole('row', { name: new RegExp(formatFingerprint(patKey)) });
    const olgaRow = members.getByRole('row', { name: new RegExp(formatFingerprint(olgaKey)) });
    await expect.poll(() => patRow.textContent()).toMatch(/^Pat you.*Admin/);
    await expect
      .poll(() => olgaRow.textContent())
      .toBe(`OlgaSigning officer${formatFingerprint(olgaKey)}Copy`);

    const policies = page.getByRole('list', { name: `Policies of ${url}` }).getByRole('listitem');
    expect(await policies.allTextContents()).toEqual([
      'Every app and channel, every kind of statement: 1 approval from admins, release managers or signing officers; the proposer cannot approve',
      `${APP} / ${CHANNEL}, releases: 1 approval from release managers or signing officers, at least 1 signing officer; the proposer cannot approve`,
    ]);
    // Changing membership stays a CLI task: the screen shows the command.
    expect(await page.getByLabel('Add a member (an admin runs)').inputValue()).toBe(
      `airlock members add --server ${url} --key <public-key hex> --name <name> --role <role>`,
    );
    await patWindow.shoot('members');
  });

  it('exports a signing request; the officer reviews and approves it in her window; the import pushes it', async () => {
    const proposed = await team.propose('1.0.0');
    expect(proposed).toMatchObject({ seq: 1, state: 'pending' });

    // Pat: export the request from the inbox card.
    await patWindow.open('Approvals');
    const card = page.getByRole('list', { name: 'Pending statements' }).getByRole('listitem');
    await card.first().waitFor();
    const request = await patWindow.download(
      () => card.first().getByRole('button', { name: 'Export signing request' }).click(),
      downloads,
    );
    expect(request.name).toBe(`${APP}-${CHANNEL}-seq1.airlock-request.json`);
    const content = readFileSync(request.path, 'utf8');
    requestContent = content;
    expect(SigningRequestSchema.parse(JSON.parse(content)).statementId).toBe(proposed.statementId);
    await page.getByText(`Signing request saved as ${request.name}`).waitFor();

    // Olga, offline, in her own window: review, then approve and save the approval file.
    const olgaWindow = await openWindow(olga);
    windows.push(olgaWindow);
    const olgaPage = olgaWindow.page;
    await olgaWindow.open('Approvals');
    await olgaPage.getByText('Nothing waits for approval').waitFor();
    await olgaPage.getByLabel('Review a signing request').setInputFiles(request.path);
    const review = olgaPage.getByRole('article', {
      name: `Signing request: Release 1.0.0 at 100% · ${APP}/${CHANNEL}`,
    });
    await review.waitFor();
    const expected = await call(olga, 'approvals:review', { source: 'request', content });
    expect(expected.verdict.summary).toMatch(/^0\/1 approvals/);
    // What is signed comes first, with the file names and both hashes to compare (issue 13).
    const bundle = expected.summary.bundle;
    if (bundle === undefined) throw new Error('a release review names its bundle');
    const text = await shownText(
      review,
      '1. What you sign',
      'Version1.0.0',
      '100% of devices',
      'nothing: no release runs on this channel yet',
      'none: the signed statement has no notes',
      bundle.sha256,
      bundle.encryptedSha256,
      'index.html',
      expected.verdict.summary,
      // Pat is the server's first admin: `server init` named him "admin <fingerprint>", which is
      // no name; the review says so rather than passing the fingerprint off as one.
      `Proposed byUnnamed admin ${formatFingerprint(patKey)}`,
      'Approved so far bynobody yet',
      'Not pinned on this console',
      'This console has not pinned this server',
      'Signs with',
      expected.signer?.name ?? 'a signer',
    );
    expect(text.indexOf('1. What you sign')).toBeLessThan(text.indexOf('2. Who proposed it'));
    expect(text.indexOf('2. Who proposed it')).toBeLessThan(text.indexOf('3. Trust root'));
    expect(text.indexOf('3. Trust root')).toBeLessThan(text.indexOf('4. The key that signs'));
    expect(text).not.toContain('Expired');
    expect(text).not.toContain('(unknown)');
    // Approving needs the fingerprint the administrator gave, typed in (ARCHITECTURE.md §5).
    const approve = review.getByRole('button', { name: 'Approve and save approval file' });
    expect(await approve.isDisabled()).toBe(true);
    await review
      .getByLabel('Server fingerprint from your administrator')
      .fill(formatFingerprint(team.server.rootId));
    await olgaWindow.shoot('approval-review');
    // The alert dialog names the key; production needs the version typed (issue 13).
    const approval = await olgaWindow.download(async () => {
      await approve.click();
      const dialog = olgaPage.getByRole('alertdialog');
      await shownText(dialog, expected.signer?.name ?? 'a signer', 'cannot be taken back');
      await olgaWindow.shoot('approval-confirm');
      await confirmInDialog(olgaPage, 'Sign', '1.0.0');
    }, downloads);
    expect(approval.name).toMatch(/\.airlock-approval\.json$/);
    const file = JSON.parse(readFileSync(approval.path, 'utf8')) as {
      format: string;
      statementId: string;
      approver: { keyId: string };
    };
    expect(file).toMatchObject({
      format: APPROVAL_FILE_FORMAT,
      statementId: proposed.statementId,
      approver: { keyId: olgaKey },
    });
    await review.getByText(/Approval saved as .*With it: 1\/1 approvals/).waitFor();
    // After signing, the facts agree with the banner.
    await shownText(review, `Approved so far by${expected.signer?.name ?? ''}`);
    expect(await review.textContent()).not.toContain('nobody yet');

    // Pat: import the approval file; the policy is met and the push goes out.
    await page.getByLabel('Import an approval file').setInputFiles(approval.path);
    const result = page.locator('.import-result');
    await result.waitFor();
    await shownText(
      result,
      `Imported the approval of Olga (${formatFingerprint(olgaKey)})`,
      /1\/1 approvals.*can be pushed now/,
    );
    // The push waits for the person to confirm it.
    await result.getByRole('button', { name: `Push to ${APP}/${CHANNEL}` }).click();
    await confirmInDialog(page, 'Push', '1.0.0');
    await shownText(result, /Pushed: the server applied it as #1/);
    const overview = await call(pat, 'apps:overview', {});
    expect(overview.channels[0]?.live?.current).toMatchObject({
      statementId: proposed.statementId,
      version: '1.0.0',
    });
    for (const window of [patWindow, olgaWindow]) expect(window.consoleErrors).toEqual([]);
  });

  it('refuses a forged request: notes not in the statement, a root that does not match the pin', async () => {
    // Notes added to the request's summary that the signed statement does not have: the review is
    // refused, naming the field, and there is nothing to approve (ARCHITECTURE.md §5, issue 13).
    const forged = JSON.parse(requestContent) as {
      summary: Record<string, unknown>;
      server: string;
    };
    forged.summary['notes'] = 'Security fix, already reviewed by the CTO';
    const notesPath = join(work, 'forged-notes.airlock-request.json');
    writeFileSync(notesPath, JSON.stringify(forged));
    const olgaWindow = windows.find((window) => window !== patWindow);
    if (olgaWindow === undefined) throw new Error("Olga's window is open from the test before");
    const olgaPage = olgaWindow.page;
    await olgaWindow.open('Approvals');
    await olgaPage.getByLabel('Review a signing request').setInputFiles(notesPath);
    await shownText(olgaPage.getByRole('alert'), /summary field "notes"/, 'REQUEST_FILE_INVALID');
    expect(await olgaPage.getByRole('article', { name: /^Signing request/ }).count()).toBe(0);
    expect(await olgaPage.getByRole('button', { name: /^Approve/ }).count()).toBe(0);
    await olgaWindow.shoot('approval-forged-notes');

    // The genuine request relabelled as one for another server this officer pinned: the chain it
    // carries is not that server's, so the review says so and no approval can be given, not even
    // with a fingerprint typed in (there is no field for one).
    const other = await startTestServer({ admins: [team.admin] });
    const eve = makeConsole(work, 'files-eve', () => team.webDir);
    try {
      await call(eve, 'keys:create', { type: 'identity', label: 'Eve' });
      await call(eve, 'servers:connect', { url: other.url });
      const relabelled = JSON.parse(requestContent) as { server: string };
      relabelled.server = other.url;
      const relabelledPath = join(work, 'relabelled.airlock-request.json');
      writeFileSync(relabelledPath, JSON.stringify(relabelled));
      const eveWindow = await openWindow(eve);
      windows.push(eveWindow);
      await eveWindow.open('Approvals');
      await eveWindow.page.getByLabel('Review a signing request').setInputFiles(relabelledPath);
      const review = eveWindow.page.getByRole('article', { name: /^Signing request/ });
      await shownText(
        review,
        'Does NOT match the pinned trust root',
        'another trust root than the one this console pinned',
        'this request cannot be signed',
      );
      expect(
        await review.getByRole('button', { name: 'Approve and save approval file' }).isDisabled(),
      ).toBe(true);
      expect(await review.getByLabel('Server fingerprint from your administrator').count()).toBe(0);
      await eveWindow.shoot('approval-root-mismatch');
      // The handler refuses it too, whatever a window sends.
      await expect(
        call(eve, 'approvals:approve', {
          mode: 'request',
          content: JSON.stringify(relabelled),
          rootFingerprint: formatFingerprint(team.server.rootId),
        }),
      ).rejects.toThrow(/trust root/);
    } finally {
      await other.dispose();
      await eve.dispose();
    }
  });

  it('backs a key up with a passphrase asked twice, and restores it into a fresh console', async () => {
    await patWindow.open('Keys');
    const row = page.getByRole('table', { name: 'Keys' }).getByRole('row', { name: /Pat/ });
    await row.getByRole('button', { name: 'Back up' }).click();
    const dialog = page.getByRole('dialog', { name: 'Back up Pat' });
    await dialog.waitFor();
    const first = dialog.getByLabel('Passphrase (at least 8 characters)');
    const second = dialog.getByLabel('Repeat the passphrase');
    await first.fill('short');
    await dialog.getByRole('button', { name: 'Save backup' }).click();
    await dialog.getByText('The passphrase needs at least 8 characters.').waitFor();
    await first.fill(PASSPHRASE);
    await second.fill('correct horse battery stapler');
    await dialog.getByText('The two passphrases differ: type the same one twice.').waitFor();
    expect(await first.getAttribute('aria-invalid')).toBe('true');
    await patWindow.shoot('keys-backup');
    await second.fill(PASSPHRASE);
    expect(await dialog.getByRole('alert').count()).toBe(0);
    const backup = await patWindow.download(
      () => dialog.getByRole('button', { name: 'Save backup' }).click(),
      downloads,
    );
    expect(backup.name).toBe(`airlock-identity-key-${patKey.slice(0, 16)}.backup.json`);
    await dialog.waitFor({ state: 'hidden' });
    await page.getByText(`Backup saved as ${backup.name}`).waitFor();
    // Nothing was deleted: the key is still here.
    expect((await pat.keys.list()).map((key) => key.keyId)).toContain(patKey);
    expect(readFileSync(backup.path, 'utf8')).not.toMatch(/PRIVATE KEY/);

    // A fresh console, its own keychain: first run, no server.
    const spareWindow = await openWindow(spare);
    windows.push(spareWindow);
    const sparePage = spareWindow.page;
    await spareWindow.open('Members and policies');
    await sparePage.getByText('No server connected').waitFor();
    await spareWindow.open('Keys');
    await sparePage.getByText('No keys yet').waitFor();
    await sparePage.getByLabel('Choose backup file').setInputFiles(backup.path);
    await sparePage.getByText(`Chosen: ${backup.name}`).waitFor();
    const passphrase = sparePage.getByLabel('Passphrase of the backup');
    const restore = sparePage.getByRole('button', { name: 'Restore key' });
    await passphrase.fill('not the passphrase');
    await restore.click();
    const alert = sparePage.getByRole('alert');
    await alert.waitFor();
    await expect
      .poll(() => alert.textContent())
      .toContain('That passphrase does not open this backup.');
    expect(await spare.keys.list()).toEqual([]);

    await passphrase.fill(PASSPHRASE);
    await restore.click();
    await sparePage.getByText(/Restored the identity key Pat/).waitFor();
    await sparePage
      .getByRole('table', { name: 'Keys' })
      .getByRole('row', { name: /Pat/ })
      .waitFor();
    expect(await sparePage.getByRole('alert').count()).toBe(0);
    const restored = await spare.keys.list();
    expect(restored.map((key) => key.keyId)).toEqual([patKey]);
    // Restoring the same key again says so in plain words.
    await sparePage.getByLabel('Choose backup file').setInputFiles(backup.path);
    await passphrase.fill(PASSPHRASE);
    await restore.click();
    await sparePage.getByText('This key is already in this computer').waitFor();
    for (const window of windows) expect(window.consoleErrors).toEqual([]);
  });
});
