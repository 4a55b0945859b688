import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatFingerprint } from '../../../src/core/crypto';
import { invokeHandler } from '../../../src/main/ipc/handle';
import { SigningRequestSchema } from '../../../src/shared/schemas';
import {
  call,
  refusal,
  setUpTeam,
  signingOfficerPolicy,
  type Team,
  type TestConsole,
} from '../../e2e/console-window';

/**
 * `approvals:export-request` (ARCHITECTURE.md §5): a signing request for a statement this console holds,
 * written by the same code as `releases:propose … exportRequest`, against a real server on
 * loopback, real SQLite and the throwaway keychain. Alice proposes (admin); Olga (signing officer)
 * approves the exported file on a console that never connects. Also the trust-root view of
 * `servers:list` (members with fingerprints, policies) that the Members screen shows.
 */

const APP = 'com.example.exportreq';
const CHANNEL = 'production';

let work: string;
let team: Team;
let url: string;
let alice: TestConsole;
let olga: TestConsole;
let aliceKey = '';
let olgaKey = '';

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'airlock-export-request-'));
  // Olga's console never connects: she approves the exported file.
  team = await setUpTeam(work, {
    app: APP,
    channels: [CHANNEL],
    names: { user: 'xr-alice', officer: 'xr-olga' },
    labels: { user: 'alice', officer: 'olga' },
    policies: [signingOfficerPolicy(APP, CHANNEL)],
    connect: { officer: false },
  });
  ({ user: alice, officer: olga, userKey: aliceKey, officerKey: olgaKey, url } = team);
});

afterAll(async () => {
  await team?.dispose();
  rmSync(work, { recursive: true, force: true });
});

describe('approvals:export-request', () => {
  it('writes the signing request of a pending proposal; the exported file is approved offline and imported', async () => {
    const proposed = await team.propose('1.0.0');
    expect(proposed).toMatchObject({ seq: 1, state: 'pending', request: null });

    const offer = await call(alice, 'approvals:export-request', {
      server: url,
      statementId: proposed.statementId,
    });
    expect(offer.fileName).toBe(`${APP}-${CHANNEL}-seq1.airlock-request.json`);
    const request = SigningRequestSchema.parse(JSON.parse(offer.content));
    expect(request).toMatchObject({
      statementId: proposed.statementId,
      server: url,
      approvals: [],
      summary: { kind: 'release', version: '1.0.0' },
      policy: { threshold: 1, require: { signing_officer: 1 } },
    });
    const audit = await call(alice, 'audit:list', { limit: 1000 });
    expect(audit.entries.filter((entry) => entry.action === 'request.exported')).toHaveLength(1);

    const review = await call(olga, 'approvals:review', {
      source: 'request',
      content: offer.content,
    });
    expect(review).toMatchObject({
      statementId: proposed.statementId,
      rootPinned: 'unknown',
      expired: false,
      verdict: { satisfied: false },
    });
    expect(review.verdict.summary).toMatch(/^0\/1 approvals/);
    const approved = await call(olga, 'approvals:approve', {
      mode: 'request',
      content: offer.content,
      rootFingerprint: formatFingerprint(team.server.rootId),
    });
    const imported = await call(alice, 'approvals:import', {
      content: approved.approvalFile?.content as string,
      push: true,
    });
    expect(imported).toMatchObject({
      statementId: proposed.statementId,
      approver: olgaKey,
      pushQueued: true,
      applied: { seq: 1, alreadyApplied: false },
    });

    // Once the verified log holds it there is nothing left to approve.
    await call(alice, 'sync:run', {});
    const settled = await refusal(alice, 'approvals:export-request', {
      server: url,
      statementId: proposed.statementId,
    });
    expect(settled.code).toBe('INVALID_ARGUMENT');
    expect(settled.message).toMatch(/already applied/);
  });

  it('names and writes the file exactly as releases:propose does with exportRequest', async () => {
    const proposed = await team.propose('1.1.0', { exportRequest: true });
    const offer = await call(alice, 'approvals:export-request', {
      server: url,
      statementId: proposed.statementId,
    });
    expect(offer.fileName).toBe(proposed.request?.fileName);
    const fromPropose = JSON.parse(proposed.request?.content as string) as { createdAt: string };
    const fromExport = JSON.parse(offer.content) as { createdAt: string };
    expect({ ...fromExport, createdAt: '' }).toEqual({ ...fromPropose, createdAt: '' });
  });

  it('refuses statements this console does not hold for that server, and malformed input', async () => {
    const unknown = await refusal(alice, 'approvals:export-request', {
      server: url,
      statementId: 'a'.repeat(64),
    });
    expect(unknown.code).toBe('NOT_FOUND');
    const elsewhere = await refusal(alice, 'approvals:export-request', {
      server: 'http://127.0.0.1:9',
      statementId: 'a'.repeat(64),
    });
    expect(elsewhere.code).toBe('NOT_FOUND');
    const notOlgas = await refusal(olga, 'approvals:export-request', {
      server: url,
      statementId: 'b'.repeat(64),
    });
    expect(notOlgas.code).toBe('NOT_FOUND');
    const malformed = await invokeHandler(alice.table, 'approvals:export-request', {
      server: url,
      statementId: 'not-an-id',
    });
    expect(malformed).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT' } });
    const extra = await invokeHandler(alice.table, 'approvals:export-request', {
      server: url,
      statementId: 'a'.repeat(64),
      bundle: true,
    });
    expect(extra).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT' } });
  });
});

describe('servers:list, the trust root as the Members screen shows it', () => {
  it('lists members with their fingerprints and the policies of the pinned root', async () => {
    const { servers } = await call(alice, 'servers:list', {});
    expect(servers).toHaveLength(1);
    const view = servers[0];
    expect(view).toMatchObject({ url, rootVersion: 2, rootThreshold: 1 });
    expect(Date.parse(view?.rootExpiresAt ?? '')).toBeGreaterThan(Date.now());
    expect(view?.members).toEqual(
      expect.arrayContaining([
        {
          keyId: aliceKey,
          name: expect.any(String) as unknown,
          roles: ['admin'],
          fingerprint: formatFingerprint(aliceKey),
        },
        {
          keyId: olgaKey,
          name: 'Olga',
          roles: ['signing_officer'],
          fingerprint: formatFingerprint(olgaKey),
        },
      ]),
    );
    expect(view?.policies).toContainEqual(signingOfficerPolicy(APP, CHANNEL));
    // The default policies of `airlock server init`: every kind, with no role minimums.
    expect(view?.policies.filter((policy) => policy.app === '*')).toHaveLength(5);
    expect(view?.policies.find((policy) => policy.app === '*')?.require).toEqual({});
  });
});
