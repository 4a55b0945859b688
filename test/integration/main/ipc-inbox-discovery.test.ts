import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, setUpTeam, type Team } from '../../e2e/console-window';

/**
 * An approver's inbox finds what waits on the server though nobody handed it an id (issue 13):
 * the proposer's console proposes; the officer's console, in its own data directory, refreshes
 * its inbox and sees the statement with its verdict, approves it online, and the proposer pushes.
 * Real handlers, a real server on loopback, real SQLite, the throwaway keychain.
 */

const APP = 'com.example.discovery';

let work: string;
let team: Team;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'airlock-inbox-discovery-'));
  team = await setUpTeam(work, {
    app: APP,
    names: { user: 'discovery-user', officer: 'discovery-officer' },
  });
});

afterAll(async () => {
  await team?.dispose();
  rmSync(work, { recursive: true, force: true });
});

describe('the approvals inbox', () => {
  it('lists a proposal made on another console, and drops it once applied', async () => {
    const before = await call(team.officer, 'approvals:inbox', { refresh: false });
    expect(before.items).toEqual([]);

    const proposed = await team.propose('1.0.0');
    const offline = await call(team.officer, 'approvals:inbox', { refresh: false });
    expect(offline.items).toEqual([]);

    const found = await call(team.officer, 'approvals:inbox', { refresh: true });
    expect(found.items.map((item) => item.statementId)).toEqual([proposed.statementId]);
    expect(found.items[0]).toMatchObject({
      server: team.url,
      state: 'pending',
      verdict: { satisfied: false },
    });

    await call(team.officer, 'approvals:approve', {
      mode: 'online',
      server: team.url,
      statementId: proposed.statementId,
    });
    await call(team.user, 'releases:push', { server: team.url, statementId: proposed.statementId });
    const after = await call(team.officer, 'approvals:inbox', { refresh: true });
    expect(after.items.filter((item) => item.state === 'pending')).toEqual([]);
  });
});
