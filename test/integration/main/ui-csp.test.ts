import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  channelAction,
  openWindow,
  SCREENS,
  setUpTeam,
  signingOfficerPolicy,
  type ConsoleWindow,
  type Team,
} from '../../e2e/console-window';

/**
 * The design system under the strict CSP (issue 13; src/renderer/index.html: `style-src 'self'`).
 * Radix's Dialog, AlertDialog and modal DropdownMenu lock the page's scroll; the package they use
 * for it (react-remove-scroll) injects a <style> element at run time, which the policy refuses.
 * electron.vite.config.ts aliases it to src/renderer/src/lib/remove-scroll.tsx, which locks scroll
 * through the CSSOM. This test loads every screen of the built renderer and opens each Radix
 * primitive (the menu, the confirmation dialog, the backup dialog, the rollback dialog), and asserts
 * that the page reported no CSP violation (`securitypolicyviolation` events recorded from before
 * the first script, test/e2e/console-window.ts) and holds no <style> element. A control case injects
 * a <style> and a style="" attribute and checks that the recorder sees both, so the assertion can
 * fail.
 */

const APP = 'com.example.csp';
const CHANNEL = 'production';

let work: string;
let team: Team;
let window: ConsoleWindow;
let page: Page;

/** What a modal primitive does to the page: the body's overflow and the number of <style>s. */
function pageState(): Promise<{ overflow: string; styles: number }> {
  return page.evaluate(
    "({ overflow: document.body.style.overflow, styles: document.querySelectorAll('style').length })",
  );
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'airlock-ui-csp-'));
  team = await setUpTeam(work, {
    app: APP,
    channels: [CHANNEL],
    names: { user: 'csp-pat', officer: 'csp-olga' },
    labels: { user: 'Pat', officer: 'Olga' },
    policies: [signingOfficerPolicy(APP, CHANNEL)],
  });
  await team.approveAndPush((await team.propose('1.0.0')).statementId);
  await team.approveAndPush((await team.propose('1.1.0')).statementId);
  await team.propose('1.2.0');
  window = await openWindow(team.user);
  page = window.page;
});

afterAll(async () => {
  await window?.close();
  await team?.dispose();
  rmSync(work, { recursive: true, force: true });
});

describe('the console under its Content-Security-Policy', () => {
  it.each(SCREENS)('$label loads with no CSP violation', async ({ label }) => {
    await window.open(label);
    await expect.poll(() => page.getByText('Loading…').count()).toBe(0);
    expect(await window.cspViolations()).toEqual([]);
    expect((await pageState()).styles).toBe(0);
  });

  it('opens the menu and the dialogs with no CSP violation; their scroll lock holds and is undone', async () => {
    await window.open('Apps and channels');
    await page.getByRole('table', { name: 'Channels' }).waitFor();

    // DropdownMenu (modal).
    await page.getByRole('button', { name: /^More actions for / }).click();
    await page.getByRole('menu').waitFor();
    expect(await pageState()).toEqual({ overflow: 'hidden', styles: 0 });
    await page.keyboard.press('Escape');
    await page.getByRole('menu').waitFor({ state: 'detached' });
    expect(await pageState()).toEqual({ overflow: '', styles: 0 });

    // AlertDialog: the pause confirmation of the rollout panel.
    await channelAction(page, APP, 'Rollout');
    await page.getByRole('button', { name: 'Pause rollout' }).click();
    const pause = page.getByRole('alertdialog', { name: /^Propose a pause of / });
    await pause.waitFor();
    expect(await pageState()).toEqual({ overflow: 'hidden', styles: 0 });
    await pause.getByRole('button', { name: 'Cancel' }).click();
    await pause.waitFor({ state: 'detached' });
    expect(await pageState()).toEqual({ overflow: '', styles: 0 });

    // AlertDialog: the rollback confirmation of the history.
    await window.open('Release history');
    await page.getByRole('button', { name: 'Roll back to 1.0.0' }).click();
    const rollback = page.getByRole('alertdialog', { name: 'Roll back to 1.0.0?' });
    await rollback.waitFor();
    expect(await pageState()).toEqual({ overflow: 'hidden', styles: 0 });
    await page.keyboard.press('Escape');
    await rollback.waitFor({ state: 'detached' });

    // Dialog: the key backup.
    await window.open('Keys');
    await page
      .getByRole('table', { name: 'Keys' })
      .getByRole('row', { name: /Pat/ })
      .getByRole('button', { name: 'Back up' })
      .click();
    const backup = page.getByRole('dialog', { name: 'Back up Pat' });
    await backup.waitFor();
    expect(await pageState()).toEqual({ overflow: 'hidden', styles: 0 });
    await backup.getByRole('button', { name: 'Cancel' }).click();
    await backup.waitFor({ state: 'detached' });
    expect(await pageState()).toEqual({ overflow: '', styles: 0 });

    expect(await window.cspViolations()).toEqual([]);
    expect(window.consoleErrors.filter((line) => line.includes('Content Security Policy'))).toEqual(
      [],
    );
  });

  it('the recorder sees an injected <style> and style="" attribute (the assertions above can fail)', async () => {
    const control = await openWindow(team.user);
    try {
      await control.open('Apps and channels');
      expect(await control.cspViolations()).toEqual([]);
      await control.page.evaluate(`(() => {
        const style = document.createElement('style');
        style.textContent = 'body { overflow: hidden; }';
        document.head.append(style);
        document.body.setAttribute('style', 'overflow: hidden');
      })()`);
      await expect
        .poll(() => control.cspViolations())
        .toEqual([
          expect.stringMatching(/^style-src-elem inline /),
          expect.stringMatching(/^style-src-attr inline /),
        ]);
      // The page itself shows it: neither took effect.
      expect(await control.page.evaluate('getComputedStyle(document.body).overflow')).not.toBe(
        'hidden',
      );
    } finally {
      await control.close();
    }
  });
});
