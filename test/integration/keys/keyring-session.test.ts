import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI_PATH, REPO_ROOT, runCli } from '../../helpers/cli';
import { spawn } from 'node:child_process';

/**
 * README "Admin commands on a headless server": scripts/keyring-session.sh gives a machine without
 * a desktop a real Secret Service, and keeps the keys across runs (its own D-Bus session each
 * time, the same keyring files). Run from inside the test keyring, it starts a bus of its own.
 */

const dir = mkdtempSync(join(tmpdir(), 'airlock-keyring-session-'));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function session(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [join(REPO_ROOT, 'scripts/keyring-session.sh'), ...args], {
      env: { ...process.env, AIRLOCK_KEYRING_BUS: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('scripts/keyring-session.sh', () => {
  const env = {
    AIRLOCK_KEYRING_DIR: join(dir, 'keyrings'),
    AIRLOCK_KEYRING_PASSPHRASE: 'a passphrase for this test',
    AIRLOCK_HOME: join(dir, 'home'),
  };

  it('keeps an identity key across sessions, and refuses to start without a passphrase', async () => {
    const created = await session(
      [process.execPath, CLI_PATH, 'keys', 'create', '--type', 'identity'],
      env,
    );
    expect(created.code).toBe(0);
    const keyId = created.stdout.trim();
    expect(keyId).toMatch(/^[0-9a-f]{64}$/);
    const listed = await session([process.execPath, CLI_PATH, 'keys', 'list', '--json'], env);
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout)).toMatchObject({ keys: [{ keyId }] });
    // Another session with the same keyring but not unlocked: no key is readable.
    const locked = await session([process.execPath, CLI_PATH, 'keys', 'list'], {
      ...env,
      AIRLOCK_KEYRING_PASSPHRASE: '',
    });
    expect(locked.code).toBe(2);
    expect(locked.stderr).toContain('set AIRLOCK_KEYRING_PASSPHRASE');
    // The test's own keychain never saw the key.
    const outside = await runCli(['keys', 'list', '--json'], {
      env: { AIRLOCK_HOME: env.AIRLOCK_HOME },
    });
    expect(outside.stdout).not.toContain(keyId);
  });
});
