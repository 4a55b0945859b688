import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  call,
  channelAction,
  makeConsole,
  openWindow,
  overviewRow,
  startTeamServer,
  type BridgeWindow,
  type ConsoleWindow,
  type TeamServer,
  type TestConsole,
  shownText,
} from '../../e2e/console-window';
import { sampleWebBuild, writeTree } from '../../helpers/bundle-fixtures';

/**
 * The console's screens (ARCHITECTURE.md §7, §10) in Debian's Chromium, against the real handlers (real
 * SQLite, real throwaway keychain) through the loopback test bridge, and a real server on loopback.
 * The user in the window is the proposer; a second console in this process plays the signing
 * officer. Screenshots of each screen land in test-results/screenshots/.
 */

const APP = 'com.example.ui';
const CHANNEL = 'production';

let work: string;
let webDir: string;
let user: TestConsole;
let officer: TestConsole;
let window: ConsoleWindow;
let page: Page;
let team: TeamServer | undefined;
/** The release proposed through the window. */
let statementId = '';

function open(label: string): Promise<void> {
  return window.open(label);
}

function shoot(name: string): Promise<void> {
  return window.shoot(name);
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'airlock-ui-'));
  webDir = join(work, 'www');
  writeTree(webDir, sampleWebBuild());
  user = makeConsole(work, 'user', () => webDir);
  officer = makeConsole(work, 'officer', () => webDir);
  window = await openWindow(user);
  page = window.page;
});

afterAll(async () => {
  await window?.close();
  await team?.dispose();
  await user?.dispose();
  await officer?.dispose();
  rmSync(work, { recursive: true, force: true });
});

describe('the console window', () => {
  it('renders the shell with navigation, offline, and opens on Keys at first run', async () => {
    const nav = page.getByRole('navigation', { name: 'Main' });
    await expect
      .poll(() => nav.getByRole('button').allTextContents())
      .toEqual([
        'Apps and channels',
        'New release',
        'Approvals',
        'Release history',
        'Health',
        'Outbox and sync',
        'Keys',
        'Members and policies',
        'Servers',
        'Audit log',
      ]);
    await page.getByRole('heading', { level: 1, name: 'Keys' }).waitFor();
    expect(await nav.getByRole('button', { name: 'Keys' }).getAttribute('aria-current')).toBe(
      'page',
    );
    await page.getByText('Welcome to Airlock').waitFor();
    // A console with no server is air-gapped by intent: a neutral state, not an error.
    await expect.poll(() => page.getByRole('status').first().textContent()).toBe('Air-gapped');
    await page.getByText('No keys yet').waitFor();
    await shoot('first-run');
    // The sidebar is reachable from the keyboard.
    await nav.getByRole('button', { name: 'Servers' }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Servers' }).waitFor();
    expect(await nav.getByRole('button', { name: 'Servers' }).getAttribute('aria-current')).toBe(
      'page',
    );
  });

  it('creates an identity key through the Keys screen and lists it', async () => {
    await open('Keys');
    await page.getByLabel('Label (optional)').fill('UI tester');
    await page.getByRole('button', { name: 'Create identity key' }).click();
    const row = page.getByRole('table', { name: 'Keys' }).getByRole('row', { name: /UI tester/ });
    await row.waitFor();
    const [key] = await user.keys.list();
    expect(key?.type).toBe('identity');
    await expect.poll(() => row.textContent()).toContain(key?.fingerprint);
    await expect.poll(() => page.getByText('Welcome to Airlock').count()).toBe(0);

    await row.getByRole('button', { name: 'Export public key' }).click();
    const box = page.getByLabel('Public key (hex)');
    await box.waitFor();
    const exported = await call(user, 'keys:export-public', {
      keyId: key?.keyId ?? '',
      format: 'hex',
    });
    expect(await box.inputValue()).toBe(exported.text);
    await shoot('keys');
  });

  it('switches the theme and keeps the choice', async () => {
    const html = page.locator('html');
    const toggle = page.getByRole('button', { name: /Change theme/ });
    expect(await html.getAttribute('data-theme')).toBeNull();
    await toggle.click();
    expect(await html.getAttribute('data-theme')).toBe('light');
    await toggle.click();
    expect(await html.getAttribute('data-theme')).toBe('dark');
    const background = await page.evaluate<string>(
      'getComputedStyle(document.body).backgroundColor',
    );
    expect(background).toBe('rgb(21, 23, 27)');
    expect(await page.evaluate<string | null>("localStorage.getItem('airlock.theme')")).toBe(
      'dark',
    );
    await shoot('keys-dark');
    await page.reload();
    await page.evaluate(() => (globalThis as unknown as BridgeWindow).__airlockBridge.ready);
    await page.getByRole('heading', { level: 1 }).waitFor();
    expect(await html.getAttribute('data-theme')).toBe('dark');
    await page.getByRole('button', { name: /Change theme/ }).click();
    expect(await html.getAttribute('data-theme')).toBeNull();
  });

  it('connects a server by URL and shows the fingerprint to compare', async () => {
    // The identity key the Keys screen created is the server's admin; the officer's is made here.
    // The window connects below, as a person does; the officer's console afterwards.
    team = await startTeamServer(user, officer, {
      app: APP,
      channels: [CHANNEL],
      connect: { user: false, officer: false },
    });
    const { url } = team;

    await open('Servers');
    await page.getByText('No servers connected').waitFor();
    await page.getByLabel('Server URL').fill(url);
    await page.getByRole('button', { name: 'Connect' }).click();
    const fingerprint = page.getByLabel('Trust root fingerprint');
    await fingerprint.waitFor();
    const { servers } = await call(user, 'servers:list', {});
    expect(await fingerprint.inputValue()).toBe(servers[0]?.fingerprint);
    await page
      .getByRole('table', { name: 'Servers' })
      .getByText('Olga (Signing officer)')
      .waitFor();
    await expect.poll(() => page.getByRole('status').first().textContent()).toBe('Online');
    await shoot('servers');
    await call(officer, 'servers:connect', { url });
  });

  it('shows a proposal in the approvals inbox with its policy progress', async () => {
    const url = team?.url ?? '';
    const proposed = await page.evaluate(
      async ({ url, app, channel }) => {
        const { api } = globalThis as unknown as BridgeWindow;
        const keys = await api.keys.list();
        const bundleKey = keys.ok ? keys.value.keys.find((key) => key.type === 'bundle') : null;
        const folder = await api.dialogs.chooseFolder({ purpose: 'web-build' });
        if (!bundleKey || !folder.ok || folder.value.path === null) return { folder };
        const built = await api.bundles.build({
          webDir: folder.value.path,
          bundleKeyId: bundleKey.keyId,
        });
        if (!built.ok) return { built };
        const identity = keys.ok ? keys.value.keys.find((key) => key.type === 'identity') : null;
        return api.releases.propose({
          server: url,
          app,
          channel,
          version: '1.0.0',
          bundle: built.value.bundle.encryptedSha256,
          identity: identity?.keyId,
        });
      },
      { url, app: APP, channel: CHANNEL },
    );
    expect(proposed).toMatchObject({ ok: true, value: { seq: 1, state: 'pending' } });
    if ('ok' in proposed && proposed.ok) statementId = proposed.value.statementId;

    await open('Approvals');
    const card = page.getByRole('list', { name: 'Pending statements' }).getByRole('listitem');
    await card.first().waitFor();
    // The proposer cannot approve their own statement: no Approve button for it.
    await shownText(
      card.first(),
      `Release 1.0.0 at 100% · ${APP}/${CHANNEL}`,
      /0\/1 approvals: missing 1 approval \(pending\)/,
      'Your proposal: others approve it.',
    );
    expect(await card.first().getByRole('button', { name: 'Approve' }).count()).toBe(0);
    await shoot('approvals');

    await open('Apps and channels');
    const row = overviewRow(page, APP);
    await row.waitFor();
    await expect.poll(() => row.textContent()).toContain('Awaiting approval 0/1');
  });

  it('shows the applied release in the overview and the channel history', async () => {
    const url = team?.url ?? '';
    const approved = await call(officer, 'approvals:approve', {
      mode: 'online',
      server: url,
      statementId,
    });
    expect(approved.verdict?.satisfied).toBe(true);
    const pushed = await page.evaluate(
      async ({ url, statementId }) =>
        (globalThis as unknown as BridgeWindow).api.releases.push({ server: url, statementId }),
      { url, statementId },
    );
    expect(pushed).toMatchObject({ ok: true, value: { queued: false } });

    // The push mirrored the channel already; a sync finds the log up to date.
    await open('Outbox and sync');
    await page.getByRole('button', { name: 'Sync now' }).click();
    await page.getByText(/0 delivered, 0 failed, 0 new log entries/).waitFor();
    await shoot('outbox');

    await open('Apps and channels');
    const row = overviewRow(page, APP);
    await expect.poll(() => row.textContent()).toMatch(/Live1\.0\.0 · 100%/);
    await shoot('overview');
    await channelAction(page, APP, 'History');
    await page.getByRole('heading', { level: 1, name: 'Release history' }).waitFor();
    const history = page.getByRole('table', { name: `History of ${APP}/${CHANNEL}` });
    const rows = history.locator('tbody').getByRole('row');
    await expect
      .poll(() => rows.allTextContents())
      .toEqual([expect.stringMatching(/^#1Release at 100%1\.0\.0/)]);
    await shoot('history');
  });

  it('pages a long history 50 rows at a time, and filters the whole of it', async () => {
    const url = team?.url ?? '';
    const target = { server: url, app: APP, channel: CHANNEL };
    // 130 approved rollout changes, so the log (131 entries) spans three pages of 50.
    for (let index = 0; index < 130; index += 1) {
      const percent = 10 + (index % 9) * 10;
      const proposed = await call(user, 'rollout:change', {
        ...target,
        change: { kind: 'percent', percent },
      });
      await team?.approveAndPush(proposed.statementId);
    }

    // Each push mirrored its channel as it applied: a sync finds nothing new.
    await open('Outbox and sync');
    await page.getByRole('button', { name: 'Sync now' }).click();
    await page.getByText(/0 delivered, 0 failed, 0 new log entries/).waitFor();
    await open('Release history');
    await page.getByText('131 statements, newest first', { exact: true }).waitFor();
    const history = page.getByRole('table', { name: `History of ${APP}/${CHANNEL}` });
    const rows = history.locator('tbody').getByRole('row');
    const pager = page.getByRole('navigation', { name: `History of ${APP}/${CHANNEL}, pages` });
    const showing = (text: string) => shownText(pager, text);
    await expect.poll(() => rows.first().textContent()).toMatch(/^#131Rollout to /);
    expect(await rows.count()).toBe(50);
    // The sticky header stays the table's first row.
    expect(await history.getByRole('columnheader').allTextContents()).toEqual([
      '#',
      'Action',
      'Version',
      'Applied',
      'Proposed by',
      'Approvals',
      'Rollback',
    ]);
    await showing('Showing 1–50 of 131');
    await shoot('history-long');

    // Next, then Last: main serves the page asked for; the oldest statement is the last row.
    await pager.getByRole('button', { name: 'Next' }).click();
    await showing('Showing 51–100 of 131');
    await expect.poll(() => rows.first().textContent()).toMatch(/^#81Rollout to /);
    await pager.getByRole('button', { name: 'Last' }).click();
    await showing('Showing 101–131 of 131');
    await expect.poll(() => rows.last().textContent()).toMatch(/^#1Release at 100%1\.0\.0/);
    expect(await rows.count()).toBe(31);
    expect(await pager.getByRole('button', { name: 'Next' }).isDisabled()).toBe(true);

    // Main filters the whole log (in SQL): one release among 131 statements, back on page one.
    await page.getByLabel('Action', { exact: true }).selectOption('release');
    await page.getByText('1 of 131 statements match', { exact: true }).waitFor();
    await expect
      .poll(() => rows.allTextContents())
      .toEqual([expect.stringMatching(/^#1Release at 100%1\.0\.0/)]);
    await showing('Showing 1–1 of 1');
    await page.getByLabel('Action', { exact: true }).selectOption('rollout');
    await page.getByText('130 of 131 statements match', { exact: true }).waitFor();
    await showing('Showing 1–50 of 130');
    await page.getByLabel('Version', { exact: true }).fill('1.0.0');
    await page.getByText('0 of 131 statements match', { exact: true }).waitFor();
    expect(await rows.count()).toBe(0);
    await page.getByLabel('Action', { exact: true }).selectOption('');
    await page.getByText('1 of 131 statements match', { exact: true }).waitFor();
    await page.getByLabel('Version', { exact: true }).fill('');
    await page.getByLabel('Proposed by', { exact: true }).fill('no such person');
    await page.getByText('0 of 131 statements match', { exact: true }).waitFor();
    // By the name the table shows (the proposer's key label here): every statement is theirs.
    const label = (await call(user, 'keys:list', {})).keys.find(
      (key) => key.type === 'identity',
    )?.label;
    expect(label).toBeTruthy();
    await page
      .getByLabel('Proposed by', { exact: true })
      .fill((label ?? '').slice(1).toUpperCase());
    await page.getByText('131 of 131 statements match', { exact: true }).waitFor();
    await showing('Showing 1–50 of 131');
    await page.getByLabel('Proposed by', { exact: true }).fill('');
    await page.getByText('131 statements, newest first', { exact: true }).waitFor();
    await showing('Showing 1–50 of 131');
  });

  it('lists the audit trail and verifies its chain', async () => {
    await open('Audit log');
    await page.getByRole('table', { name: 'Audit log' }).waitFor();
    await page.getByRole('button', { name: 'Verify chain' }).click();
    await page.getByText(/The chain is intact: \d+ entries/).waitFor();
    await shoot('audit');

    // Names, not key ids; actions in words (issue 13).
    const table = page.getByRole('table', { name: 'Audit log' });
    const entries = (await call(user, 'audit:list', { afterSeq: 0, limit: 1000 })).entries;
    const keyId = entries.find((entry) => /^[0-9a-f]{64}$/.test(entry.actor))?.actor ?? '';
    // The name a person gave the key: the trust root's, where it is one ("admin <fingerprint>",
    // what `server init` writes, is none), else its label in this keychain.
    const { servers } = await call(user, 'servers:list', {});
    const member = servers[0]?.members.find((candidate) => candidate.keyId === keyId);
    const label = (await call(user, 'keys:list', {})).keys.find(
      (key) => key.keyId === keyId,
    )?.label;
    const name =
      member !== undefined && member.name !== `admin ${member.fingerprint}` ? member.name : label;
    if (name === undefined || name === '') throw new Error('the actor has a name');
    await shownText(table, name);
    expect(await table.textContent()).not.toContain(keyId.slice(0, 16));

    // Filter by action: only those rows; the count says how many match.
    const proposals = entries.filter((entry) => entry.action === entries[0]?.action).length;
    await page.getByLabel('Action', { exact: true }).selectOption(entries[0]?.action ?? '');
    await shownText(
      page.getByRole('status').filter({ hasText: /entries (match|, newest)/ }),
      `${proposals} of ${entries.length} entries match`,
    );
    expect(await table.locator('tbody tr').count()).toBe(Math.min(50, proposals));
    await page.getByLabel('Action', { exact: true }).selectOption('');
    // A search that matches nothing empties the table.
    await page.getByLabel('Search').fill('no-such-thing-anywhere');
    await shownText(
      page.getByRole('status').filter({ hasText: /entries (match|, newest)/ }),
      `0 of ${entries.length} entries match`,
    );
    expect(await table.locator('tbody tr').count()).toBe(0);
    await page.getByLabel('Search').fill('');

    // Exports: the whole log, JSON with the hashes and CSV with a header.
    const downloads = join(work, 'downloads');
    const json = await window.download(
      () => page.getByRole('button', { name: 'Export JSON' }).click(),
      downloads,
    );
    const exported = JSON.parse(readFileSync(json.path, 'utf8')) as { entries: { hash: string }[] };
    expect(exported.entries.map((entry) => entry.hash)).toEqual(entries.map((entry) => entry.hash));
    const csv = await window.download(
      () => page.getByRole('button', { name: 'Export CSV' }).click(),
      downloads,
    );
    const lines = readFileSync(csv.path, 'utf8').trimEnd().split('\r\n');
    expect(lines[0]).toBe('seq,time,action,actor,actor_name,details,hash');
    expect(lines.length).toBeGreaterThanOrEqual(entries.length + 1);
  });

  it('visits every screen without console errors', async () => {
    for (const label of [
      'Apps and channels',
      'New release',
      'Approvals',
      'Release history',
      'Health',
      'Outbox and sync',
      'Keys',
      'Members and policies',
      'Servers',
      'Audit log',
    ]) {
      await open(label);
      expect(await page.getByRole('alert').count(), label).toBe(0);
    }
    expect(window.consoleErrors).toEqual([]);
  });
});
