import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rsaSignerFromPrivateKey } from '../../../src/core/bundle';
import { signRoot } from '../../../src/core/statement';
import { createGuard } from '../../../src/device';
import { ConsoleServices } from '../../../src/main/services/console';
import type { GuardState, RootChain, TrustBundle, TrustRoot } from '../../../src/shared/schemas';
import { generateTestRsaKey, makeTempDir, type TempDir } from '../../helpers/bundle-fixtures';
import { MemoryStorage, RecordingUpdater, serverTrustBundle } from '../../helpers/device-log';
import {
  DeviceSim,
  makeEncryptedBundle,
  ReleaseDesk,
  type BundleInfo,
} from '../../helpers/device-sim';
import { startTestServer, testIdentity, type TestServer } from '../../helpers/server';
import { prng } from '../../helpers/prng';

/**
 * Differential (ARCHITECTURE.md §11): for generated logs — releases, rollouts, pauses, resumes, rollbacks,
 * with trust-root changes between them — pushed through a real server's signed admin API (so its
 * release rules apply), the guard's decision for a device equals the server's `/updates` answer
 * for the same device: the same version to install, or nothing; and the channel state the guard
 * stored (release, rollout, pause and rollback marks, head) equals the console mirror's view of
 * the channel after a verified sync. Seeded, so a failure replays.
 */

const APP = 'com.example.differential';
const LOGS = 200;
const DEVICES_PER_LOG = 3;
const alice = testIdentity('differential alice'); // TEST-ONLY: proposes
const bob = testIdentity('differential bob'); // TEST-ONLY: approves
const key = generateTestRsaKey(); // TEST-ONLY bundle key
let dir: TempDir;
let server: TestServer;
let desk: ReleaseDesk;
let bundle: { path: string; info: BundleInfo };
let trust: TrustBundle;
/** A console (its own data directory) whose verified mirror is the third opinion. */
let console_: ConsoleServices;

beforeAll(async () => {
  dir = makeTempDir('airlock-differential-');
  bundle = await makeEncryptedBundle(dir.path, rsaSignerFromPrivateKey(key.privateKey), 'diff');
  server = await startTestServer({ admins: [alice, bob] });
  desk = new ReleaseDesk(() => server.url, alice, bob);
  await desk.createApp(APP, key.publicKeyPem, [{ name: 'log-0' }]);
  await desk.uploadBundle(bundle);
  trust = await serverTrustBundle(server.url, APP, alice);
  console_ = ConsoleServices.open(`${dir.path}/console`);
});

afterAll(async () => {
  console_?.close();
  await server?.dispose();
  dir?.cleanup();
});

/** A new trust-root version: a member joins or leaves (signed by alice, threshold 1). */
async function rotateRoot(index: number): Promise<void> {
  const chain = (await (await fetch(`${server.url}/api/v1/root`)).json()) as RootChain;
  const current = chain.roots[chain.roots.length - 1]?.root as TrustRoot;
  const carol = testIdentity(`differential carol ${index}`);
  const next: TrustRoot = {
    ...current,
    version: current.version + 1,
    members: [
      ...current.members.filter((member) => !member.name.startsWith('carol')),
      {
        keyId: carol.keyId,
        publicKey: carol.publicKeyHex,
        name: `carol ${index}`,
        roles: ['signing_officer'],
      },
    ],
  };
  await desk.call('POST', '/root', {
    signed: { root: next, signatures: [await signRoot(next, alice)] },
  });
}

/** Random statements on `channel`, through the server's rules; a refused step is skipped. */
async function generate(channel: string, random: () => number): Promise<number> {
  const releases: string[] = [];
  let version = 0;
  let paused = false;
  let applied = 0;
  const steps = 1 + Math.floor(random() * 8);
  for (let step = 0; step < steps; step += 1) {
    const roll = random();
    try {
      if (releases.length === 0 || roll < 0.35) {
        version += 1;
        const percent = random() < 0.5 ? 100 : 1 + Math.floor(random() * 99);
        const minNativeVersion = random() < 0.15 ? '2.0.0' : '1.0.0';
        releases.push(
          await desk.release(APP, channel, `1.${version}.0`, bundle, {
            percent,
            minNativeVersion,
          }),
        );
      } else if (roll < 0.55) {
        await desk.rollout(APP, channel, 1 + Math.floor(random() * 100));
      } else if (roll < 0.7) {
        await (paused ? desk.resume(APP, channel) : desk.pause(APP, channel));
        paused = !paused;
      } else if (releases.length >= 2) {
        const target = releases[Math.floor(random() * (releases.length - 1))] as string;
        await desk.rollback(APP, channel, target);
      }
      applied += 1;
    } catch {
      // The server's release rules refused this step (e.g. a rollback to the current release).
    }
  }
  return applied;
}

describe('the guard decides as the server does', () => {
  it(`over ${LOGS} generated logs with root changes, ${DEVICES_PER_LOG} devices each`, async () => {
    const random = prng(0x5eed);
    let compared = 0;
    let installs = 0;
    for (let log = 0; log < LOGS; log += 1) {
      const channel = `log-${log}`;
      if (log > 0) await desk.call('POST', `/apps/${APP}/channels`, { name: channel });
      if (log % 40 === 39) await rotateRoot(log);
      await generate(channel, random);
      const { server: pinned } = await console_.connect(server.url);
      await console_.sync(pinned, APP, channel);
      const mirror = console_.mirrorHead(pinned, APP, channel);
      for (let index = 0; index < DEVICES_PER_LOG; index += 1) {
        const deviceId = `00000000-0000-4000-8000-${String(log * 10 + index).padStart(12, '0')}`;
        const running = random() < 0.4 ? 'builtin' : `1.${Math.floor(random() * 4)}.0`;
        const sim = new DeviceSim({
          baseUrl: server.url,
          appId: APP,
          publicKeyPem: key.publicKeyPem,
          deviceId,
          defaultChannel: channel,
          versionBuild: '1.0.0',
        });
        sim.versionName = running;
        const answer = await sim.checkForUpdate();
        const updater = new RecordingUpdater();
        updater.deviceId = deviceId;
        updater.native = '1.0.0';
        updater.bundle =
          running === 'builtin'
            ? { id: 'builtin', version: 'builtin' }
            : { id: `bundle-${running}`, version: running };
        const storage = new MemoryStorage();
        const guard = createGuard({
          server: server.url,
          app: APP,
          channel,
          trust,
          storage,
          updater,
        });
        const result = await guard.check();
        const context = `${channel} device ${index} running ${running}: server ${JSON.stringify(answer.body)}, guard ${JSON.stringify(result)}`;
        expect(result.action, context).not.toBe('refused');
        const stored = JSON.parse(storage.values.get(guard.storageKey) ?? 'null') as GuardState;
        expect(stored.state, `${context}; the mirror's view`).toEqual(mirror.state);
        expect(stored.current?.statement.release.version ?? null, context).toBe(
          mirror.currentVersion,
        );
        if (answer.available) {
          installs += 1;
          expect(result, context).toEqual({ action: 'installed', version: answer.body.version });
        } else {
          expect(result, context).toMatchObject({ action: 'up_to_date' });
          expect(result, context).toMatchObject({ reason: answer.error });
        }
        compared += 1;
      }
    }
    expect(compared).toBe(LOGS * DEVICES_PER_LOG);
    // The generated logs exercise both answers.
    expect(installs).toBeGreaterThan(LOGS / 4);
    expect(compared - installs).toBeGreaterThan(LOGS / 4);
  }, 600_000);
});
