import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Runs the real `@capgo/cli` (pinned 8.x) offline (PROTOCOL.md §8). Its npm version check is its
 * only network call; a preloaded module makes `fetch` refuse anything but `data:` URLs (the CLI loads
 * a WASM that way), and HOME points at a folder without a Capgo API key (no telemetry).
 */
const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
export const CAPGO_BIN = join(repoRoot, 'node_modules', '.bin', 'capgo');

const OFFLINE_FETCH_SOURCE = `
const realFetch = globalThis.fetch;
globalThis.fetch = (input, init) => {
  const url = String((input && input.url) || input);
  if (url.startsWith('data:')) return realFetch(input, init);
  return Promise.reject(new TypeError('network disabled: ' + url));
};`;
// Percent-encoded: a "?" or "#" in a data: URL would otherwise cut the module short.
export const OFFLINE_FETCH = `--import=data:text/javascript,${encodeURIComponent(OFFLINE_FETCH_SOURCE)}`;

export interface CapgoRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** `capgo <args>` in `cwd` with HOME at `home`; never rejects, the exit code says how it went. */
export function runCapgo(
  args: readonly string[],
  options: { cwd: string; home: string; timeoutMs?: number },
): Promise<CapgoRun> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [OFFLINE_FETCH, CAPGO_BIN, ...args],
      {
        cwd: options.cwd,
        env: { PATH: process.env.PATH ?? '', HOME: options.home, CI: '1', NO_COLOR: '1' },
        timeout: options.timeoutMs ?? 90_000,
        maxBuffer: 16 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** The JSON object a `capgo … --json` run printed (the CLI may print lines around it). */
export function parseCapgoJson(run: CapgoRun): Record<string, string> {
  const { stdout } = run;
  if (run.code !== 0) throw new Error(`capgo failed (${run.code}): ${run.stdout}${run.stderr}`);
  return JSON.parse(stdout.slice(stdout.indexOf('{'), stdout.lastIndexOf('}') + 1)) as Record<
    string,
    string
  >;
}
