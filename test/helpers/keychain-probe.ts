/**
 * Spawned by test/integration/keys/no-keychain.test.ts: one keychain operation in a fresh process,
 * under whatever D-Bus environment the test gives it. Prints one JSON line and exits at once (a
 * keytar call that timed out may still hold a libuv thread, which would keep the process alive).
 *
 * Usage: tsx test/helpers/keychain-probe.ts list|set [timeoutMs]
 */
import { AirlockError } from '../../src/core/errors';
import { createOsKeychain } from '../../src/main/keys/keychain';

const [operation = 'list', timeout] = process.argv.slice(2);
const keychain = createOsKeychain(
  `airlock-probe-${process.pid}`,
  timeout === undefined ? {} : { timeoutMs: Number(timeout) },
);
const started = performance.now();
let report: Record<string, unknown>;
try {
  if (operation === 'set') {
    await keychain.set('probe', 'not a secret');
    await keychain.delete('probe');
    report = { ok: true };
  } else {
    report = { ok: true, count: (await keychain.list()).length };
  }
} catch (error) {
  report =
    error instanceof AirlockError
      ? { ok: false, code: error.code, message: error.message }
      : { ok: false, code: 'NOT_AN_AIRLOCK_ERROR', message: String(error) };
}
process.stdout.write(
  `${JSON.stringify({ ...report, ms: Math.round(performance.now() - started) })}\n`,
);
process.exit(0);
