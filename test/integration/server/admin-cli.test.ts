import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatFingerprint } from '../../../src/core';
import { makeTempDir, type TempDir } from '../../helpers/bundle-fixtures';
import { runCli } from '../../helpers/cli';
import { testIdentity } from '../../helpers/server';

/** `airlock server init` as a user runs it (ARCHITECTURE.md §8); `server start` is driven by crash-*.test.ts. */

// TEST-ONLY identities.
const alice = testIdentity('cli-init alice');
const bob = testIdentity('cli-init bob');

let dir: TempDir;

beforeAll(() => {
  dir = makeTempDir('airlock-server-cli-');
});

afterAll(() => {
  dir.cleanup();
});

describe('airlock server init', () => {
  it('takes admin keys as hex or as files and prints the root fingerprint and server key', async () => {
    const keyFile = join(dir.path, 'bob.pub');
    writeFileSync(keyFile, `${bob.publicKeyHex}\n`);
    const dataDir = join(dir.path, 'data-json');
    const result = await runCli([
      'server',
      'init',
      '--data',
      dataDir,
      '--admin',
      alice.publicKeyHex,
      '--admin',
      keyFile,
      '--root-threshold',
      '2',
      '--json',
    ]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const printed = JSON.parse(result.stdout) as { rootId: string; serverKeyId: string };
    expect(printed.rootId).toMatch(/^[0-9a-f]{64}$/);
    expect(printed.serverKeyId).toMatch(/^[0-9a-f]{64}$/);

    const human = await runCli([
      'server',
      'init',
      '--data',
      join(dir.path, 'data-text'),
      '--admin',
      alice.publicKeyHex,
    ]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/Trust root fingerprint: [0-9a-f]{64}/);
    expect(human.stdout).toContain('Server key: ');
  });

  it('refuses an initialised directory, a bad key, and a missing --admin', async () => {
    const dataDir = join(dir.path, 'data-twice');
    expect(
      (await runCli(['server', 'init', '--data', dataDir, '--admin', alice.publicKeyHex])).code,
    ).toBe(0);
    const again = await runCli([
      'server',
      'init',
      '--data',
      dataDir,
      '--admin',
      alice.publicKeyHex,
    ]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^airlock: .*not empty/);
    const bad = await runCli([
      'server',
      'init',
      '--data',
      join(dir.path, 'bad'),
      '--admin',
      'nothex',
    ]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/neither 64 hex characters nor a file/);
    const missing = await runCli(['server', 'init', '--data', join(dir.path, 'none')]);
    expect(missing.code).toBe(2);
    expect(formatFingerprint(alice.keyId)).toMatch(/^[0-9a-f]{4} /);
  });

  it('refuses to start a directory that was never initialised', async () => {
    const result = await runCli([
      'server',
      'start',
      '--data',
      join(dir.path, 'empty'),
      '--port',
      '0',
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/run "airlock server init" first/);
  });
});
