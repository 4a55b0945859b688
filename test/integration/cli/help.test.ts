import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CLI_PATH, REPO_ROOT, runCli } from '../../helpers/cli';

/**
 * Issue 12, "a CLI a newcomer gets right": the built `airlock` is executable after every build
 * (`npx airlock` works), every command answers `--help` with its own usage and exit 0 (with no
 * side effect: `server start --help` starts nothing), and an unknown flag names the nearest one.
 */

const COMMANDS = [
  ['keys', 'create'],
  ['keys', 'list'],
  ['keys', 'export-public'],
  ['keys', 'import'],
  ['keys', 'backup'],
  ['keys', 'restore'],
  ['keys', 'delete'],
  ['bundle', 'build'],
  ['bundle', 'encrypt'],
  ['bundle', 'verify'],
  ['server', 'init'],
  ['server', 'start'],
  ['members', 'add'],
  ['members', 'remove'],
  ['members', 'list'],
  ['members', 'sign'],
  ['members', 'submit'],
  ['apps', 'create'],
  ['apps', 'channel'],
  ['apps', 'list'],
  ['policy', 'set'],
  ['propose'],
  ['approve'],
  ['push'],
  ['rollback'],
  ['rollout'],
  ['log', 'verify'],
  ['connect'],
  ['sync'],
  ['outbox'],
  ['import'],
  ['audit'],
];

describe('airlock --help', () => {
  it('is executable after the build, and npx airlock runs it', () => {
    expect(statSync(CLI_PATH).mode & 0o111).toBe(0o111);
    const npx = spawnSync('npx', ['--no-install', 'airlock', '--help'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
    });
    expect(npx.status).toBe(0);
    expect(npx.stdout).toContain('release control for Capacitor live updates');
  });

  it.each(COMMANDS.map((command) => [command.join(' '), command] as const))(
    'airlock %s --help prints its usage and exits 0',
    async (_name, command) => {
      const result = await runCli([...command, '--help'], { timeoutMs: 20_000 });
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(new RegExp(`^usage:\\s+airlock ${command[0]}`));
      expect(result.stderr).toBe('');
    },
  );

  it('groups answer with their subcommands', async () => {
    for (const group of ['keys', 'bundle', 'server', 'members', 'apps', 'policy', 'log']) {
      const result = await runCli([group, '--help']);
      expect(result.code).toBe(0);
      expect(result.stdout).toContain(`airlock ${group} `);
    }
  });

  it('suggests the nearest flag for an unknown one', async () => {
    const result = await runCli(['propose', '--srever', 'http://127.0.0.1:1']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('unknown option --srever; did you mean --server?');
  });
});
