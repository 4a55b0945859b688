import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AxeBuilder } from '@axe-core/playwright';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  call,
  channelAction,
  openWindow,
  SCREENS,
  setUpTeam,
  signingOfficerPolicy,
  type ConsoleWindow,
  type Team,
} from '../../e2e/console-window';

/**
 * Accessibility checked by a real tool (issue 13): axe-core (through @axe-core/playwright) on every
 * screen of the built renderer in Debian's Chromium, in the light and the dark theme, against the
 * real handlers and a real server on loopback with a released channel and a pending proposal, so
 * the screens show their tables, badges, charts, the signing review and the dialogs rather than
 * empty states. No serious or critical violation of WCAG 2.2 A/AA rules is allowed. Screenshots of
 * every screen and theme: test-results/screenshots/a11y-<theme>-<screen>.png.
 */

const APP = 'com.example.a11y';
const CHANNEL = 'production';
const TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];

let work: string;
let team: Team;
/** The proposal that waits for approval. */
let pending = '';
const windows: ConsoleWindow[] = [];

/** The serious and critical violations axe finds on the page as it is now, as readable lines. */
async function violations(page: Page): Promise<string[]> {
  const results = await new AxeBuilder({ page }).withTags(TAGS).analyze();
  return results.violations
    .filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')
    .flatMap((violation) =>
      violation.nodes.map(
        (node) =>
          `${violation.id} (${violation.impact ?? ''}): ${node.target.join(' ')}: ${node.failureSummary ?? ''}`,
      ),
    );
}

/** Waits until the screen stopped loading: its h1 shows and no "Loading…" remains. */
async function settled(page: Page, label: string): Promise<void> {
  await page.getByRole('heading', { level: 1, name: label }).waitFor();
  await expect.poll(() => page.getByText('Loading…').count()).toBe(0);
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'airlock-ui-a11y-'));
  team = await setUpTeam(work, {
    app: APP,
    channels: [CHANNEL],
    names: { user: 'a11y-pat', officer: 'a11y-olga' },
    labels: { user: 'Pat', officer: 'Olga' },
    policies: [signingOfficerPolicy(APP, CHANNEL)],
  });
  const first = await team.propose('1.0.0');
  await team.approveAndPush(first.statementId);
  // A proposal that waits: the overview badge, the inbox card and the review have content.
  pending = (await team.propose('1.1.0')).statementId;
});

afterAll(async () => {
  for (const window of windows) await window.close();
  await team?.dispose();
  rmSync(work, { recursive: true, force: true });
});

describe.each(['light', 'dark'] as const)('axe-core on every screen, %s theme', (theme) => {
  let window: ConsoleWindow;
  let page: Page;

  beforeAll(async () => {
    window = await openWindow(team.user, { colorScheme: theme });
    windows.push(window);
    page = window.page;
  });

  it.each(SCREENS)('$label', async ({ label, id }) => {
    await window.open(label);
    await settled(page, label);
    if (id === 'overview') await page.getByRole('table', { name: 'Channels' }).waitFor();
    if (id === 'health')
      await page
        .getByRole('table', { name: 'Health per version' })
        .or(page.getByText('No installs or failures reported yet'))
        .first()
        .waitFor();
    if (id === 'history')
      await page
        .getByRole('table', { name: /^History of / })
        .locator('tbody')
        .getByRole('row')
        .first()
        .waitFor();
    if (id === 'audit') await page.getByRole('table', { name: 'Audit log' }).waitFor();
    await window.shoot(`a11y-${theme}-${id}`);
    expect(await violations(page)).toEqual([]);
  });

  it('the open action menu, the rollout panel, the signing review and the confirmation dialog', async () => {
    await window.open('Apps and channels');
    await settled(page, 'Apps and channels');
    await channelAction(page, APP, 'Rollout');
    await page.getByRole('region', { name: `Rollout of ${APP}/${CHANNEL}` }).waitFor();
    await page.getByRole('button', { name: /^More actions for / }).click();
    await page.getByRole('menu').waitFor();
    await window.shoot(`a11y-${theme}-overview-menu`);
    expect(await violations(page)).toEqual([]);
    await page.keyboard.press('Escape');

    // The officer's review of the pending release from its signing request, and its dialog.
    const offer = await call(team.user, 'approvals:export-request', {
      server: team.url,
      statementId: pending,
    });
    const requestPath = join(work, `${theme}-${offer.fileName}`);
    writeFileSync(requestPath, offer.content);
    const olga = await openWindow(team.officer, { colorScheme: theme });
    windows.push(olga);
    await olga.open('Approvals');
    await settled(olga.page, 'Approvals');
    await olga.page.getByLabel('Review a signing request').setInputFiles(requestPath);
    await olga.page.getByRole('article', { name: /^Signing request: Release 1\.1\.0/ }).waitFor();
    await olga.shoot(`a11y-${theme}-signing-review`);
    expect(await violations(olga.page)).toEqual([]);
    await olga.page.getByRole('button', { name: 'Approve and save approval file' }).click();
    await olga.page.getByRole('alertdialog').waitFor();
    await olga.shoot(`a11y-${theme}-confirm-dialog`);
    expect(await violations(olga.page)).toEqual([]);
    await olga.page.getByRole('button', { name: 'Cancel' }).click();
  });
});
