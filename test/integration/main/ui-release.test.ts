import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  call,
  channelAction,
  confirmInDialog,
  openWindow,
  overviewRow,
  setUpTeam,
  type ConsoleWindow,
  type Team,
  type TestConsole,
  shownText,
} from '../../e2e/console-window';

/**
 * New release, rollout control and rollback through approval (ARCHITECTURE.md §5, §7), driven in Debian's
 * Chromium against the real handlers and a real server on loopback. The user in the window
 * proposes; a second console in this process plays the signing officer and approves through its
 * own handlers. Screenshots: new-release, rollout, rollback-dialog.
 */

const APP = 'com.example.release';
const CHANNEL = 'production';

let work: string;
let team: Team;
let user: TestConsole;
let officer: TestConsole;
let window: ConsoleWindow;
let page: Page;
/** The encrypted SHA-256 of the first bundle, as the window showed it. */
let firstBundle = '';

/** The result card of the proposal titled `title` (ProposalResult). */
function result(title: string | RegExp): Locator {
  return page.getByRole('region', { name: title });
}

/** The full statement id a result card shows (shortened on screen, whole in its title). */
async function statementIdOf(card: Locator): Promise<string> {
  const id = await card.locator('.mono').first().getAttribute('title');
  expect(id).toMatch(/^[0-9a-f]{64}$/);
  return id ?? '';
}

/** The officer approves online; the window checks the approvals and pushes from the card. */
async function approveAndPush(card: Locator): Promise<string> {
  const statementId = await statementIdOf(card);
  const approved = await call(officer, 'approvals:approve', {
    mode: 'online',
    server: team.url,
    statementId,
  });
  expect(approved.verdict?.satisfied).toBe(true);
  await card.getByRole('button', { name: 'Check approvals' }).click();
  await card.getByText('policy satisfied').waitFor();
  await expect.poll(() => card.textContent()).toContain('1/1 approvals');
  await card.getByRole('button', { name: 'Push now' }).click();
  // A push is consequential: it asks first (issue 13).
  await confirmInDialog(page, 'Push');
  await card.getByText(/Pushed: applied as #\d+/).waitFor();
  await expect.poll(() => card.textContent()).toContain('applied: it is in the channel’s log');
  expect(await card.getByRole('button', { name: 'Push now' }).count()).toBe(0);
  return statementId;
}

/** Chooses the folder and builds with the only bundle key; returns the encrypted SHA-256. */
async function buildBundle(): Promise<string> {
  await page.getByRole('button', { name: 'Choose web build folder' }).click();
  await page.getByText(team.webDir, { exact: true }).waitFor();
  expect(await page.getByLabel('Bundle key').locator('option').allTextContents()).toEqual([
    expect.stringMatching(/^app · /),
  ]);
  await page.getByRole('button', { name: 'Build and encrypt' }).click();
  // Progress shows while it runs (too fast to rely on); the bundle's facts once it is done.
  const facts = page.locator('.bundle-info');
  await facts.waitFor();
  const text = await shownText(facts, /Files\d+/, /zipped, .* encrypted/, /Encrypted SHA-256/);
  const hash = /Encrypted SHA-256([0-9a-f]{64})/.exec(text)?.[1];
  expect(hash).toBeDefined();
  expect(await page.getByRole('progressbar').count()).toBe(0);
  return hash ?? '';
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'airlock-ui-release-'));
  team = await setUpTeam(work, {
    app: APP,
    channels: [CHANNEL],
    names: { user: 'release-user', officer: 'release-officer' },
    labels: { user: 'release manager', officer: 'officer' },
  });
  ({ user, officer } = team);
  window = await openWindow(user);
  page = window.page;
});

afterAll(async () => {
  await window?.close();
  await team?.dispose();
  rmSync(work, { recursive: true, force: true });
});

describe('new release, rollout and rollback in the console window', () => {
  it('builds, encrypts and proposes a release with a signing request', async () => {
    await window.open('New release');
    // Nothing is proposable before a bundle exists.
    expect(await page.getByRole('button', { name: 'Propose release' }).isDisabled()).toBe(true);
    firstBundle = await buildBundle();

    const channel = page.getByRole('combobox', { name: /^Channel/ });
    expect(await channel.locator('option').allTextContents()).toEqual([
      `${APP}/${CHANNEL} (${team.url})`,
    ]);
    // Nothing released yet: the suggestion is 1.0.0; the native minimum defaults to 0.0.0.
    expect(await page.getByLabel('Version', { exact: true }).inputValue()).toBe('1.0.0');
    expect(await page.getByLabel('Minimum native version').inputValue()).toBe('0.0.0');
    // Production starts with a small rollout by default (issue 13: safe defaults).
    expect(await page.getByLabel('Rollout percent', { exact: true }).inputValue()).toBe('10');
    await page.getByLabel('Rollout percent', { exact: true }).fill('100');

    // A version that is not semver is refused before anything is sent.
    await page.getByLabel('Version', { exact: true }).fill('1.0');
    await page.getByText('Enter a semantic version such as 1.4.2.').waitFor();
    expect(await page.getByRole('button', { name: 'Propose release' }).isDisabled()).toBe(true);
    await page.getByLabel('Version', { exact: true }).fill('1.0.0');
    await page.getByLabel('Notes (optional)').fill('First release from the console.');
    await page.getByLabel('Also export a signing request for offline approvers').check();
    await page.getByRole('button', { name: 'Propose release' }).click();

    const card = result(/^Proposed: Release 1\.0\.0 at 100%/);
    await card.waitFor();
    await shownText(
      card,
      '0/1 approvals: missing 1 approval',
      'waiting for approvals on the server',
    );
    expect(await card.getByRole('button', { name: 'Push now' }).count()).toBe(0);
    await window.shoot('new-release');

    // The signing request downloads as a file the officer's console accepts for review.
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      card.getByRole('button', { name: 'Save signing request' }).click(),
    ]);
    expect(download.suggestedFilename()).toBe(`${APP}-${CHANNEL}-seq1.airlock-request.json`);
    const content = readFileSync(await download.path(), 'utf8');
    const review = await call(officer, 'approvals:review', { source: 'request', content });
    const statementId = await statementIdOf(card);
    expect(review.statementId).toBe(statementId);
    expect(review.rootPinned).toBe('match');
    expect(review.expired).toBe(false);
    expect(review.verdict.satisfied).toBe(false);
    const statement = review.statement;
    expect(statement.kind).toBe('release');
    if (statement.kind === 'release') {
      expect(statement.release.version).toBe('1.0.0');
      expect(statement.release.notes).toBe('First release from the console.');
      expect(statement.release.rollout.percent).toBe(100);
      expect(statement.release.minNativeVersion).toBe('0.0.0');
      expect(statement.release.bundle.encryptedSha256).toBe(firstBundle);
    }
  });

  it('pushes the release from the window once the officer approved', async () => {
    await approveAndPush(result(/^Proposed: Release 1\.0\.0/));
    const overview = await call(user, 'apps:overview', { live: true });
    expect(overview.channels[0]?.live?.current?.version).toBe('1.0.0');
  });

  it('changes the rollout to 50%, pauses and resumes it through the rollout panel', async () => {
    await window.open('Apps and channels');
    await expect.poll(() => overviewRow(page, APP).textContent()).toMatch(/Live1\.0\.0 · 100%/);
    // Status first: a badge, one primary action (a full rollout asks for the next release), the
    // rollout control in the menu; it opens below the table, not inside the row.
    expect(await overviewRow(page, APP).getByRole('button').allTextContents()).toEqual([
      'New release',
      'More',
    ]);
    await channelAction(page, APP, 'Rollout');
    const panel = page.getByRole('region', { name: `Rollout of ${APP}/${CHANNEL}` });
    await panel.getByText('1.0.0 goes to 100% of devices.').waitFor();

    // The slider from the keyboard (End, then Page Down by tens); the number follows it.
    const slider = panel.getByRole('slider', { name: 'New rollout percent (slider)' });
    const number = panel.getByLabel('New rollout percent', { exact: true });
    expect(await panel.getByRole('button', { name: 'Propose rollout change' }).isDisabled()).toBe(
      true,
    );
    await slider.focus();
    await page.keyboard.press('Home');
    expect(await number.inputValue()).toBe('1');
    await number.fill('50');
    expect(await slider.getAttribute('aria-valuenow')).toBe('50');
    await slider.focus();
    await page.keyboard.press('PageUp');
    expect(await number.inputValue()).toBe('60');
    await page.keyboard.press('PageDown');
    expect(await number.inputValue()).toBe('50');
    await panel.getByRole('button', { name: 'Propose rollout change' }).click();

    const rollout = result(/^Proposed: Rollout to 50%/);
    await rollout.waitFor();
    await expect.poll(() => rollout.textContent()).toContain('0/1 approvals');
    await approveAndPush(rollout);
    await expect.poll(() => overviewRow(page, APP).textContent()).toContain('50%');
    await panel.getByText('1.0.0 goes to 50% of devices.').waitFor();
    await window.shoot('rollout');

    await panel.getByRole('button', { name: 'Pause rollout' }).click();
    await confirmInDialog(page, 'Propose pause');
    const pause = result(/^Proposed: Pause rollout/);
    await pause.waitFor();
    await approveAndPush(pause);
    await expect.poll(() => overviewRow(page, APP).textContent()).toContain('Paused');
    await panel.getByText(/the rollout is paused/).waitFor();

    await panel.getByRole('button', { name: 'Resume rollout' }).click();
    const resume = result(/^Proposed: Resume rollout/);
    await resume.waitFor();
    await approveAndPush(resume);
    await expect.poll(() => overviewRow(page, APP).textContent()).toContain('Rolling out 50%');
    await panel.getByRole('button', { name: 'Pause rollout' }).waitFor();

    const live = (await call(user, 'apps:overview', { live: true })).channels[0]?.live;
    expect(live).toMatchObject({
      paused: false,
      current: { version: '1.0.0', rolloutPercent: 50 },
    });
  });

  it('proposes and pushes a second release, with the version suggested from history', async () => {
    await window.open('New release');
    const second = await buildBundle();
    expect(second).not.toBe(firstBundle);
    // Suggested from the verified history (synced after each push): the next patch version.
    await expect.poll(() => page.getByLabel('Version', { exact: true }).inputValue()).toBe('1.0.1');
    await page.getByLabel('Rollout percent', { exact: true }).fill('100');
    await page.getByRole('button', { name: 'Propose release' }).click();
    const card = result(/^Proposed: Release 1\.0\.1 at 100%/);
    await card.waitFor();
    expect(await card.getByRole('button', { name: 'Save signing request' }).count()).toBe(0);
    await approveAndPush(card);
    const overview = await call(user, 'apps:overview', { live: true });
    expect(overview.channels[0]?.live?.current?.version).toBe('1.0.1');
  });

  it('rolls back to the first release through the history, a dialog and an approval', async () => {
    await window.open('Release history');
    await page.getByText('5 statements, newest first').waitFor();
    const history = page.getByRole('table', { name: `History of ${APP}/${CHANNEL}` });
    const rows = history.locator('tbody').getByRole('row');
    await expect
      .poll(() => rows.allTextContents())
      .toEqual([
        expect.stringMatching(/^#5Release at 100%1\.0\.1/),
        expect.stringMatching(/^#4Resume/),
        expect.stringMatching(/^#3Paused/),
        expect.stringMatching(/^#2Rollout to 50%/),
        expect.stringMatching(/^#1Release at 100%1\.0\.0.*Roll back to 1\.0\.0$/),
      ]);
    // The rollback button keeps to one line (issue 13): a small button on two lines would stand
    // taller than the pager's one-line buttons of the body size.
    const rollbackBox = await history
      .getByRole('button', { name: 'Roll back to 1.0.0' })
      .boundingBox();
    const pagerBox = await page
      .getByRole('navigation', { name: `History of ${APP}/${CHANNEL}, pages` })
      .getByRole('button', { name: 'First' })
      .boundingBox();
    expect(rollbackBox?.height).toBeLessThan(pagerBox?.height ?? 0);
    // The current release is not offered.
    expect(await history.getByRole('button', { name: /Roll back to/ }).count()).toBe(1);

    await history.getByRole('button', { name: 'Roll back to 1.0.0' }).click();
    const dialog = page.getByRole('alertdialog', { name: 'Roll back to 1.0.0?' });
    await dialog.waitFor();
    await expect.poll(() => dialog.textContent()).toContain('needs the approvals the channel');
    await window.shoot('rollback-dialog');
    // Cancel closes it without proposing anything; Escape works the same way.
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'hidden' });
    await history.getByRole('button', { name: 'Roll back to 1.0.0' }).click();
    await dialog.waitFor();
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    expect(await result(/^Proposed: Rollback/).count()).toBe(0);

    await history.getByRole('button', { name: 'Roll back to 1.0.0' }).click();
    await dialog.waitFor();
    await dialog.getByRole('button', { name: 'Propose rollback' }).click();
    await dialog.waitFor({ state: 'hidden' });
    const card = result(`Proposed: Rollback of ${APP}/${CHANNEL} to 1.0.0`);
    await card.waitFor();
    await expect.poll(() => card.textContent()).toContain('0/1 approvals');
    const rollbackId = await approveAndPush(card);

    // The history reloads from the synced mirror: the rollback on top, 1.0.1 now offered.
    await page.getByText('6 statements, newest first').waitFor();
    await expect.poll(() => rows.first().textContent()).toMatch(/^#6Rollback to /);
    await history.getByRole('button', { name: 'Roll back to 1.0.1' }).waitFor();
    expect(await history.getByRole('button', { name: 'Roll back to 1.0.0' }).count()).toBe(0);

    const overview = await call(user, 'apps:overview', { live: true });
    const live = overview.channels[0]?.live;
    expect(live?.current?.version).toBe('1.0.0');
    expect(live?.rolledBack).toBe(true);
    expect(live?.head).toBe(rollbackId);

    await window.open('Apps and channels');
    await expect.poll(() => overviewRow(page, APP).textContent()).toMatch(/Rolled back1\.0\.0/);
  });

  it('shows no console errors', () => {
    expect(window.consoleErrors).toEqual([]);
  });
});
