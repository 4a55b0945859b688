import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wilsonLowerBound } from '../../../src/server/device/wilson';
import {
  call,
  channelAction,
  confirmInDialog,
  openWindow,
  overviewRow,
  setUpTeam,
  type ConsoleWindow,
  type Team,
  shownText,
} from '../../e2e/console-window';
import { DeviceSim, mapLimit, seededDeviceIds } from '../../helpers/device-sim';

/**
 * The Health screen (ARCHITECTURE.md §7: health charts, adoption and failures) in Debian's Chromium,
 * against the real handlers and a real server on loopback. Releases go out through the console's
 * own handlers (propose, approve on a second console, push); simulated phones then install them
 * and report outcomes to `POST /stats` as the plugin does, and the screen shows what the server
 * counted: the per-version table as text, and the two charts as SVG.
 */

const APP = 'com.example.health.ui';
const CHANNEL = 'production';

let work: string;
let team: Team;
let window: ConsoleWindow;
let page: Page;

/** Builds a bundle in the user's console and releases it: propose, approve (officer), push. */
async function release(version: string): Promise<void> {
  const proposed = await team.propose(version);
  const pushed = await team.approveAndPush(proposed.statementId);
  expect(pushed.applied).not.toBeNull();
}

function phone(index: number): DeviceSim {
  return new DeviceSim({
    baseUrl: team.url,
    appId: APP,
    publicKeyPem: team.bundleKey.publicKey,
    // The native build ships 0.9.0 (the server does not offer a version equal to the built-in one).
    versionBuild: '0.9.0',
    deviceId: seededDeviceIds('ui-health', 10)[index],
  });
}

/** The text of each cell of the per-version table, row by row. */
async function totalsTable(): Promise<string[][]> {
  const rows = page.getByRole('table', { name: 'Health per version' }).locator('tbody tr');
  const cells: string[][] = [];
  for (const row of await rows.all()) {
    cells.push((await row.locator('th, td').allTextContents()).map((text) => text.trim()));
  }
  return cells;
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'airlock-ui-health-'));
  team = await setUpTeam(work, {
    app: APP,
    channels: [CHANNEL],
    names: { user: 'health-user', officer: 'health-officer' },
    labels: { user: 'Health tester', officer: 'officer' },
  });
  await release('1.0.0');
  await call(team.user, 'sync:run', {});

  window = await openWindow(team.user);
  page = window.page;
});

afterAll(async () => {
  await window?.close();
  await team?.dispose();
  rmSync(work, { recursive: true, force: true });
});

describe('the Health screen', () => {
  it('says so when no device has reported anything yet', async () => {
    await window.open('Health');
    await page.getByText('No installs or failures reported yet').waitFor();
    expect(await page.getByRole('table', { name: 'Health per version' }).count()).toBe(0);
  });

  it('shows adoption and failures per version, as a table and two charts', async () => {
    // Four phones install 1.0.0; then 1.1.0 goes out, six phones install it and all six report it
    // broken (the plugin rolled it back): 6 failures out of 12 outcomes.
    const first = await mapLimit([0, 1, 2, 3], 4, (index) => phone(index).update());
    expect(first.map((outcome) => outcome.result)).toEqual(Array(4).fill('installed'));
    await release('1.1.0');
    const phones = [0, 1, 2, 3, 4, 5].map(phone);
    for (const device of phones.slice(0, 4)) device.versionName = '1.0.0';
    const second = await mapLimit(phones, 6, (device) => device.update());
    expect(second).toEqual(Array(6).fill(expect.objectContaining({ version: '1.1.0' })));
    await mapLimit(phones, 6, (device) => device.reportBroken('update_fail'));

    await window.open('Health');
    await page.getByRole('button', { name: 'Refresh' }).click();
    await page.getByRole('table', { name: 'Health per version' }).waitFor();
    const bound = `${(wilsonLowerBound(6, 12) * 100).toFixed(1)}%`;
    expect(await totalsTable()).toEqual([
      ['1.0.0', '4', '0', '100%', '0%', 'Within threshold'],
      [
        '1.1.0 (current)',
        '6',
        '6',
        '50%',
        bound,
        'Above threshold, too few outcomes to pause (12/50)',
      ],
    ]);
    await page
      .getByText(
        "Pauses automatically when the failure rate's lower bound exceeds 20% after at least 50 outcomes.",
      )
      .waitFor();

    // Both charts drew into SVG: two adoption lines, one failure bar (all in this hour).
    const adoption = page.getByRole('figure', {
      name: 'Adoption (successful installs, cumulative)',
    });
    const failures = page.getByRole('figure', { name: 'Failures per hour' });
    await adoption.locator('svg.recharts-surface').first().waitFor();
    await failures.locator('svg.recharts-surface').first().waitFor();
    expect(await adoption.locator('path.recharts-line-curve').count()).toBe(2);
    expect(await failures.locator('.recharts-bar-rectangle path').count()).toBe(1);
    // The failure rate with the pause threshold, and the releases marked on a time axis fitted
    // to the data (issue 13).
    const rate = page.getByRole('figure', { name: 'Failure rate per hour' });
    await shownText(rate, 'pause threshold 20%', 'Release 1.0.0', 'Release 1.1.0', '50 outcomes');
    // One hour of outcomes per version: a dot each (a line needs two hours).
    expect(await rate.locator('.recharts-line-dot').count()).toBe(2);
    await shownText(
      page.getByRole('list', { name: 'Events in this window' }),
      'Release 1.0.0',
      'Release 1.1.0',
    );
    // Above the threshold: a banner says so and offers the pause.
    const banner = page.locator('.health-banner');
    await shownText(
      banner,
      '1.1.0 is failing on at least',
      'above the 20% pause threshold',
      'Too few outcomes for the automatic pause (12/50)',
    );
    // Nothing injected a <style> element (CSP style-src 'self').
    expect(await page.locator('style').count()).toBe(0);
    await window.shoot('health');
  });

  it('switches the window and keeps the totals since each release', async () => {
    await page.getByRole('radio', { name: '24 h' }).check();
    await expect.poll(() => page.getByRole('radio', { name: '24 h' }).isChecked()).toBe(true);
    await page.getByRole('figure', { name: 'Failures per hour' }).locator('svg').first().waitFor();
    expect((await totalsTable()).map((row) => row.slice(0, 3))).toEqual([
      ['1.0.0', '4', '0'],
      ['1.1.0 (current)', '6', '6'],
    ]);
    await page.getByRole('radio', { name: '30 days' }).check();
    await page.getByRole('table', { name: 'Health per version' }).waitFor();
    expect(await page.getByRole('alert').allTextContents()).toEqual([
      expect.stringMatching(/^1\.1\.0 is failing/),
    ]);
    expect(window.consoleErrors).toEqual([]);
  });

  it('proposes a pause from the banner, asked in a dialog; once pushed the banner says paused', async () => {
    const banner = page.locator('.health-banner');
    await banner.getByRole('button', { name: 'Propose pause' }).click();
    await confirmInDialog(page, 'Propose pause');
    const card = page.getByRole('region', { name: /^Proposed: Pause rollout/ });
    await card.waitFor();
    await shownText(card, '0/1 approvals');
    const statementId = (await card.locator('.mono').first().getAttribute('title')) ?? '';
    const pushed = await team.approveAndPush(statementId);
    expect(pushed.applied).not.toBeNull();
    await page.getByRole('button', { name: 'Refresh' }).click();
    await expect
      .poll(async () => {
        await page.getByRole('radio', { name: '24 h' }).check();
        await page.getByRole('radio', { name: '7 days' }).check();
        return banner.textContent();
      })
      .toContain('The channel is paused');
    await shownText(page.getByRole('list', { name: 'Events in this window' }), 'Pause');
    expect(await banner.getByRole('button', { name: 'Propose pause' }).count()).toBe(0);
    expect(window.consoleErrors).toEqual([]);
  });

  it("shows the current release's health in the overview, and opens its Health screen", async () => {
    await window.open('Apps and channels');
    const row = overviewRow(page, APP);
    // 1.1.0: 6 installs, 6 failures; the failure rate's lower bound (25 %) is above 20 %.
    await expect.poll(() => row.textContent()).toContain('50% ok · 6 failures · above threshold');
    await channelAction(page, APP, 'Health');
    await page.getByRole('heading', { level: 1, name: 'Health' }).waitFor();
    await page.getByRole('table', { name: 'Health per version' }).waitFor();
    expect(window.consoleErrors).toEqual([]);
  });

  it('says clearly that the server cannot be reached', async () => {
    await team.server.stop();
    await page.getByRole('button', { name: 'Refresh' }).click();
    const alert = page.getByRole('alert').filter({ hasText: 'comes from the server' });
    await alert.waitFor();
    await expect
      .poll(() => alert.textContent())
      .toContain('health data comes from the server only, so there is none to show offline');
    expect(window.consoleErrors).toEqual([]);
  });
});
