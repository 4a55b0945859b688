import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { calcKeyId, rsaSignerFromPrivateKey } from '../../../src/core';
import { generateTestRsaKey, makeTempDir, type TempDir } from '../../helpers/bundle-fixtures';
import { ReleaseDesk, makeEncryptedBundle, seededDeviceIds } from '../../helpers/device-sim';
import { startTestServer, testIdentity, type TestServer } from '../../helpers/server';

/**
 * An automated scanner in the pipeline (README "Security scanning"): Debian's wapiti 3 against
 * `airlock server start` holding a real release, every public GET endpoint given as a start URL
 * with its parameters, so that its modules inject into each parameter. Any vulnerability or
 * anomaly (a 5xx, a timeout) it reports fails the test.
 *
 * Modules: csp, crlf, exec, file, sql, blindsql, xss, permanentxss, redirect, methods, backup,
 * htaccess, shellshock, cookieflags, csrf. Left out: ssrf and xxe (they call wapiti's servers on
 * the internet), wapp and nikto (they download databases), buster and brute_login_form (word
 * lists against pages and login forms this JSON API does not have), http_headers (it checks the
 * root page for X-XSS-Protection: 1, which OWASP now advises against, and for HSTS over plain
 * HTTP, which RFC 6797 §7.2 forbids; the headers the server does send are asserted in
 * device-routes.test.ts and server-edges.test.ts). POST bodies are covered by the project's own
 * fuzzer (fuzz-device.test.ts).
 */

const APP = 'com.example.scan';
const alice = testIdentity('scan proposer'); // TEST-ONLY
const bob = testIdentity('scan approver'); // TEST-ONLY
const key = generateTestRsaKey(); // TEST-ONLY bundle key
const MODULES = [
  'csp',
  'crlf',
  'exec',
  'file',
  'sql',
  'blindsql',
  'xss',
  'permanentxss',
  'redirect',
  'methods',
  'backup',
  'htaccess',
  'shellshock',
  'cookieflags',
  'csrf',
];
const run = promisify(execFile);
let dir: TempDir;
let server: TestServer;
let sha = '';
const requests: string[] = [];

beforeAll(async () => {
  dir = makeTempDir('airlock-scan-');
  server = await startTestServer({
    admins: [alice, bob],
    spawn: true,
    logger: (line) => {
      if (line.includes('"method"')) requests.push(line);
    },
  });
  const desk = new ReleaseDesk(() => server.url, alice, bob);
  await desk.createApp(APP, key.publicKeyPem, [{ name: 'production' }]);
  const bundle = await makeEncryptedBundle(dir.path, rsaSignerFromPrivateKey(key.privateKey), 's');
  sha = bundle.info.encryptedSha256;
  await desk.release(APP, 'production', '1.1.0', bundle);
});

afterAll(async () => {
  await server.dispose();
  dir.cleanup();
});

interface WapitiReport {
  readonly vulnerabilities: Record<string, readonly unknown[]>;
  readonly anomalies: Record<string, readonly unknown[]>;
  readonly infos: { readonly target: string };
}

describe('wapiti against airlock server start', () => {
  it('finds no vulnerability and no anomaly', async () => {
    const base = server.url;
    const info = new URLSearchParams({
      platform: 'android',
      device_id: seededDeviceIds('scan', 1)[0] as string,
      app_id: APP,
      version_build: '1.0.0',
      version_name: 'builtin',
      plugin_version: '8.51.14',
      key_id: calcKeyId(key.publicKeyPem),
    });
    const starts = [
      `${base}/channel_self?${info.toString()}`,
      `${base}/api/v1/apps/${APP}/channels/production/log?after=0&limit=10`,
      `${base}/api/v1/root`,
      `${base}/bundles/${sha}`,
      `${base}/healthz`,
      `${base}/updates`,
    ];
    const config = join(dir.path, 'config');
    mkdirSync(config, { recursive: true });
    // mod_wapp downloads its database when the file is missing, even when not selected.
    writeFileSync(join(config, 'apps.json'), '{}');
    const report = join(dir.path, 'report.json');
    try {
      await run(
        'wapiti',
        [
          '-u',
          `${base}/`,
          '--scope',
          'folder',
          ...starts.flatMap((url) => ['-s', url]),
          '-m',
          MODULES.join(','),
          '--flush-session',
          '--store-session',
          join(dir.path, 'session'),
          '--store-config',
          config,
          '--max-scan-time',
          '240',
          '--max-attack-time',
          '60',
          '-f',
          'json',
          '-o',
          report,
          '--no-bugreport',
        ],
        { timeout: 300_000, maxBuffer: 64 * 1024 * 1024 },
      );
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new Error('wapiti is not installed: apt-get install wapiti');
      throw error;
    }
    const result = JSON.parse(readFileSync(report, 'utf8')) as WapitiReport;
    expect(result.infos.target).toBe(`${base}/`);
    const found = (group: Record<string, readonly unknown[]>): Record<string, number> =>
      Object.fromEntries(
        Object.entries(group)
          .filter(([, list]) => list.length > 0)
          .map(([name, list]) => [name, list.length]),
      );
    expect(found(result.vulnerabilities)).toEqual({});
    expect(found(result.anomalies)).toEqual({});
    // It did attack: hundreds of injected requests reached the server, none answered 5xx.
    expect(requests.length).toBeGreaterThan(300);
    const statuses = requests.map((line) => (JSON.parse(line) as { status: number }).status);
    expect(statuses.filter((status) => status >= 500)).toEqual([]);
  }, 330_000);
});
