/**
 * `npm run bench:device`: the device guard (ARCHITECTURE.md §11, ARCHITECTURE.md §11) as an app runs it, and its size.
 * Figures are printed, not asserted.
 *
 * 1. A real server data directory whose channel holds --statements N (10000) statements, built by
 *    ./statement-log.ts (the store's own apply path, checkpoints signed with the server key); then
 *    `startServer` on it, on loopback.
 * 2. In Chromium: the built `out/device/index.js` in a page on its own origin (test/helpers/
 *    device-page.ts; the plugin bridge stood in for, downloads recorded only): a first check over
 *    the whole log, then --incremental N (10) new statements applied on the running server and a
 *    second check. Times are the page's own clock around `guard.check()`.
 * 3. Reference, same run: the same first and incremental checks by the same guard under Node
 *    (core's node:crypto fast paths), against the same server. The ratio is Chromium / Node.
 * 4. Size: out/device/index.js as shipped (an ESM library: Vite keeps its whitespace and
 *    `@__PURE__` marks so the app's bundler can tree-shake it), then minified as that bundler
 *    would (oxc, through rolldown, Vite's own bundler), each also gzipped (level 9).
 */
import { readFileSync, rmSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { minifySync } from 'rolldown/experimental';
import { createGuard, type CheckResult } from '../../src/device';
import { startServer } from '../../src/server';
import { DEVICE_BUNDLE, openDevicePage } from '../helpers/device-page';
import { MemoryStorage, RecordingUpdater, serverTrustBundle } from '../helpers/device-log';
import { testIdentity } from '../helpers/server';
import {
  appendStatements,
  buildLog,
  fastIdentity,
  print,
  progress,
  seconds,
  tmpfsDir,
  type BenchChannel,
} from './statement-log';

const { values } = parseArgs({
  options: {
    statements: { type: 'string', default: '10000' },
    incremental: { type: 'string', default: '10' },
  },
});
const TOTAL = Number(values.statements);
const INCREMENTAL = Number(values.incremental);
const alice = testIdentity('device bench proposer'); // TEST-ONLY
const bob = testIdentity('device bench approver'); // TEST-ONLY
const LOG: BenchChannel = {
  app: 'com.example.devicebench',
  channel: 'production',
  proposer: alice,
  approver: bob,
};

function updater(): RecordingUpdater {
  const recording = new RecordingUpdater();
  recording.native = '1.0.0';
  return recording;
}

function expectPassed(where: string, result: CheckResult): void {
  if (result.action === 'refused') throw new Error(`${where}: ${result.code} ${result.message}`);
}

async function main(): Promise<void> {
  const root = tmpfsDir('airlock-device-bench-');
  const work = tmpfsDir('airlock-device-bench-work-');
  try {
    progress(`building a ${TOTAL}-statement log…`);
    const built = await buildLog(LOG, { root, work, total: TOTAL });
    const server = await startServer({ dataDir: built.dataDir, port: 0 });
    const page = await openDevicePage(updater());
    try {
      const trust = await serverTrustBundle(server.url, LOG.app, alice);
      const options = { server: server.url, app: LOG.app, channel: LOG.channel, trust };
      await page.makeGuard({ ...options, checkTimeoutMs: 600_000 });
      const nodeGuard = createGuard({
        ...options,
        storage: new MemoryStorage(),
        updater: updater(),
        checkTimeoutMs: 600_000,
      });

      progress('first checks…');
      const browserFirst = await page.check();
      expectPassed('chromium first', browserFirst.result);
      let started = performance.now();
      const nodeFirst = await nodeGuard.check();
      const nodeFirstMs = performance.now() - started;
      expectPassed('node first', nodeFirst);

      await appendStatements(
        server.store,
        LOG,
        built.head,
        INCREMENTAL,
        built.bundle,
        fastIdentity(bob),
      );
      const browserNext = await page.check();
      expectPassed('chromium incremental', browserNext.result);
      started = performance.now();
      expectPassed('node incremental', await nodeGuard.check());
      const nodeNextMs = performance.now() - started;

      const bundle = readFileSync(DEVICE_BUNDLE, 'utf8');
      const minified = minifySync('index.js', bundle, { compress: true, mangle: true }).code;
      const kib = (text: string): string => `${(Buffer.byteLength(text) / 1024).toFixed(1)} KiB`;
      const gzipKib = (text: string): string =>
        `${(gzipSync(text, { level: 9 }).length / 1024).toFixed(1)} KiB`;
      print(`device guard, ${TOTAL}-statement log, then ${INCREMENTAL} new statements`);
      print(
        `first check     chromium ${seconds(browserFirst.ms)}  node ${seconds(nodeFirstMs)}  ratio ${(browserFirst.ms / nodeFirstMs).toFixed(2)}  (${Math.round((TOTAL * 1000) / browserFirst.ms)} statements/s in chromium)`,
      );
      print(
        `incremental     chromium ${browserNext.ms.toFixed(0)} ms  node ${nodeNextMs.toFixed(0)} ms  ratio ${(browserNext.ms / nodeNextMs).toFixed(2)}`,
      );
      print(
        `bundle          out/device/index.js ${kib(bundle)} as shipped (${gzipKib(bundle)} gzipped), ${kib(minified)} minified (${gzipKib(minified)} gzipped)`,
      );
      print(`results         chromium ${JSON.stringify(browserNext.result)}`);
    } finally {
      await page.close();
      await server.close();
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});
