import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatFingerprint } from '../../../src/core/crypto';
import {
  call,
  confirmInDialog,
  openWindow,
  overviewRow,
  setUpTeam,
  shownText,
  signingOfficerPolicy,
  type ConsoleWindow,
  type Team,
} from '../../e2e/console-window';

/**
 * The signing officer's console (issue 13), two identities in separate data directories on a real
 * server: Pat proposes and pushes, Olga approves online in her own window. Releases and rollbacks
 * of the channel need a signing officer.
 *
 * 1. Stale inbox state: once a release was approved and applied, Olga's console must not go on
 *    calling it pending (the inbox after Check servers; the overview's badge, and then the inbox,
 *    once the overview saw the server's log ahead of the mirror).
 * 2. Rollback is weighty: the history's rollback opens an alert dialog that names the key that
 *    signs, and on this channel the version must be typed before it can be proposed.
 * Screenshots: officer-inbox-after-push, officer-rollback-dialog.
 */

const APP = 'com.example.officer';
const CHANNEL = 'production';

let work: string;
let team: Team;
let olga: ConsoleWindow;
let pat: ConsoleWindow;

/** The inbox card of a statement, by its heading. */
function card(page: Page, title: RegExp) {
  return page
    .getByRole('list', { name: 'Pending statements' })
    .getByRole('listitem')
    .filter({ has: page.getByRole('heading', { name: title }) });
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'airlock-ui-officer-'));
  team = await setUpTeam(work, {
    app: APP,
    channels: [CHANNEL],
    names: { user: 'officer-pat', officer: 'officer-olga' },
    labels: { user: 'Pat', officer: 'Olga' },
    policies: [
      signingOfficerPolicy(APP, CHANNEL),
      { ...signingOfficerPolicy(APP, CHANNEL), kind: 'rollback' },
    ],
  });
  olga = await openWindow(team.officer);
  pat = await openWindow(team.user);
});

afterAll(async () => {
  await olga?.close();
  await pat?.close();
  await team?.dispose();
  rmSync(work, { recursive: true, force: true });
});

describe("the signing officer's console", () => {
  it('stops calling a release pending once it was approved and applied', async () => {
    const page = olga.page;
    const first = await team.propose('1.0.0');
    // Olga approves online (the handler her review's Approve calls): her console now holds 1.0.0.
    await call(team.officer, 'approvals:approve', {
      mode: 'online',
      server: team.url,
      statementId: first.statementId,
    });
    await olga.open('Approvals');
    await shownText(card(page, /^Release 1\.0\.0/), '1/1 approvals', '(pending)');

    // Pat pushes it from his console; the server applies it.
    const pushed = await call(team.user, 'releases:push', {
      server: team.url,
      statementId: first.statementId,
    });
    expect(pushed.applied).not.toBeNull();

    // Olga asks the servers: the log holds 1.0.0 now, so the inbox drops it.
    await page.getByRole('button', { name: 'Check servers' }).click();
    await page.getByText('Nothing waits for approval').waitFor();
    expect(await card(page, /^Release 1\.0\.0/).count()).toBe(0);
    await olga.shoot('officer-inbox-after-push');

    // The same for 1.1.0, seen first from the overview: Live, nothing waiting on the channel…
    const second = await team.propose('1.1.0');
    await call(team.officer, 'approvals:approve', {
      mode: 'online',
      server: team.url,
      statementId: second.statementId,
    });
    await olga.open('Apps and channels');
    await shownText(overviewRow(page, APP), 'Approved, waiting to be pushed');
    await call(team.user, 'releases:push', { server: team.url, statementId: second.statementId });
    await olga.open('Release history');
    await olga.open('Apps and channels');
    const row = overviewRow(page, APP);
    await shownText(row, 'Live', '1.1.0');
    expect(await row.textContent()).not.toMatch(/Awaiting approval|waiting to be pushed/);
    // …and the inbox agrees.
    await olga.open('Approvals');
    await page.getByText('Nothing waits for approval').waitFor();
    expect(await card(page, /^Release 1\.1\.0/).count()).toBe(0);

    // And 1.2.0, seen first from the inbox: it asks the servers by itself and drops it.
    const third = await team.propose('1.2.0');
    await call(team.officer, 'approvals:approve', {
      mode: 'online',
      server: team.url,
      statementId: third.statementId,
    });
    await olga.open('Keys');
    await call(team.user, 'releases:push', { server: team.url, statementId: third.statementId });
    await olga.open('Approvals');
    await page.getByText('Nothing waits for approval').waitFor();
    expect(await card(page, /^Release 1\.2\.0/).count()).toBe(0);
  });

  it('asks for the version and names the signing key before proposing a rollback', async () => {
    const page = pat.page;
    await pat.open('Release history');
    await page.getByRole('button', { name: 'Roll back to 1.0.0' }).click();
    const dialog = page.getByRole('alertdialog', { name: 'Roll back to 1.0.0?' });
    await dialog.waitFor();
    await shownText(dialog, 'Signed with', 'Pat', formatFingerprint(team.userKey));
    await pat.shoot('officer-rollback-dialog');
    // Not before the version is typed; a wrong one does not do either.
    const propose = dialog.getByRole('button', { name: 'Propose rollback' });
    expect(await propose.isDisabled()).toBe(true);
    await dialog.getByLabel(/^Type .* to confirm$/).fill('1.1.0');
    expect(await propose.isDisabled()).toBe(true);
    await confirmInDialog(page, 'Propose rollback', '1.0.0');
    await dialog.waitFor({ state: 'detached' });
    await page
      .getByRole('region', { name: `Proposed: Rollback of ${APP}/${CHANNEL} to 1.0.0` })
      .waitFor();
  });
});
