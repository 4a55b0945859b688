/**
 * `npm run bench:bundle`: `airlock bundle build` + `bundle encrypt` against `capgo bundle zip` +
 * `bundle encrypt` on the same generated 50 MB, ~450-file web build, alternating, and prints the
 * medians, the ratio and each side's peak memory (issue 2; ARCHITECTURE.md §9). Both sides run as a
 * user runs them: one process per command, with the TEST-ONLY RSA key the bench generates (Capgo reads
 * it from a file, Airlock from the keychain it was imported into). Figures are printed, never
 * asserted: the machines are noisy.
 */
import { execFileSync, spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { makeTempDir } from '../helpers/bundle-fixtures';
import { CAPGO_BIN, OFFLINE_FETCH } from '../helpers/capgo';
import { CLI_PATH, REPO_ROOT } from '../helpers/cli';
import { generateWebBuild } from '../helpers/web-build';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    mb: { type: 'string', default: '50' },
    files: { type: 'string', default: '450' },
  },
});
const RUNS = Math.max(1, Number(values.runs));
const TOTAL_BYTES = Math.round(Number(values.mb) * 1024 * 1024);
const FILES = Number(values.files);
const TIME = '/usr/bin/time';
const APP_ID = 'com.example.bench';

interface Step {
  readonly wallMs: number;
  readonly peakKiB: number;
  readonly stdout: string;
}

/** One command under GNU time: wall time measured here, peak RSS (KiB) from time's `%M`. */
function step(args: readonly string[], cwd: string, env: NodeJS.ProcessEnv): Promise<Step> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(TIME, ['-f', 'AIRLOCK_BENCH_PEAK %M', process.execPath, ...args], {
      cwd,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      const wallMs = performance.now() - started;
      const peak = /AIRLOCK_BENCH_PEAK (\d+)/.exec(stderr);
      if (code !== 0 || !peak) {
        reject(new Error(`${args.join(' ')} exited ${code}:\n${stdout}\n${stderr}`));
        return;
      }
      resolve({ wallMs, peakKiB: Number(peak[1]), stdout });
    });
  });
}

function jsonOf(text: string): Record<string, unknown> {
  return JSON.parse(text.slice(text.indexOf('{'), text.lastIndexOf('}') + 1)) as Record<
    string,
    unknown
  >;
}

interface Run {
  readonly wallMs: number;
  readonly peakKiB: number;
}

function median(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

async function main(): Promise<void> {
  if (!existsSync(TIME))
    throw new Error(`${TIME} (GNU time) is needed for peak memory: apt install time`);
  if (!existsSync(CLI_PATH)) throw new Error(`${CLI_PATH} is missing: run "npm run build" first`);
  const tmp = makeTempDir('airlock-bench-bundle-');
  try {
    const project = join(tmp.path, 'app');
    const home = join(tmp.path, 'home');
    const airlockHome = join(tmp.path, 'airlock-home');
    const out = join(tmp.path, 'out');
    mkdirSync(home);
    mkdirSync(out);
    mkdirSync(join(project, 'node_modules', '@capgo'), { recursive: true });

    process.stderr.write(`generating ${values.mb} MB, ${FILES} files … `);
    const stats = generateWebBuild(join(project, 'www'), {
      totalBytes: TOTAL_BYTES,
      files: FILES,
      seed: 'airlock-bench-bundle',
    });
    process.stderr.write(`${(stats.bytes / 1024 / 1024).toFixed(1)} MiB in ${stats.files} files\n`);

    // TEST-ONLY key, generated for this run and deleted with the temp folder.
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const privatePem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
    const publicPem = publicKey.export({ type: 'pkcs1', format: 'pem' }).toString();
    const updaterDir = join(REPO_ROOT, 'node_modules', '@capgo', 'capacitor-updater');
    symlinkSync(updaterDir, join(project, 'node_modules', '@capgo', 'capacitor-updater'));
    const updater = JSON.parse(readFileSync(join(updaterDir, 'package.json'), 'utf8')) as {
      version: string;
    };
    writeFileSync(
      join(project, 'package.json'),
      JSON.stringify({
        name: 'bench-app',
        version: '1.0.0',
        private: true,
        dependencies: { '@capgo/capacitor-updater': updater.version },
      }),
    );
    writeFileSync(
      join(project, 'capacitor.config.json'),
      JSON.stringify({
        appId: APP_ID,
        appName: 'Bench',
        webDir: 'www',
        plugins: { CapacitorUpdater: { publicKey: publicPem } },
      }),
    );
    const keyFile = join(project, '.capgo_key_v2');
    writeFileSync(keyFile, privatePem, { mode: 0o600 });

    const airlockEnv = { ...process.env, AIRLOCK_HOME: airlockHome };
    const imported = jsonOf(
      execFileSync(
        process.execPath,
        [CLI_PATH, 'keys', 'import', '--type', 'bundle', keyFile, '--json'],
        { env: airlockEnv, encoding: 'utf8' },
      ),
    );
    const keyId = String(imported['keyId']);
    const capgoEnv = { PATH: process.env.PATH ?? '', HOME: home, CI: '1', NO_COLOR: '1' };

    const airlock = async (): Promise<Run> => {
      rmSync(join(out, 'airlock.zip'), { force: true });
      rmSync(join(out, 'airlock.enc'), { force: true });
      rmSync(join(out, 'airlock.enc.json'), { force: true });
      const build = await step(
        [CLI_PATH, 'bundle', 'build', join(project, 'www'), '--out', join(out, 'airlock.zip')],
        project,
        airlockEnv,
      );
      const encrypt = await step(
        [
          CLI_PATH,
          'bundle',
          'encrypt',
          join(out, 'airlock.zip'),
          '--key',
          keyId,
          '--out',
          join(out, 'airlock.enc'),
        ],
        project,
        airlockEnv,
      );
      return {
        wallMs: build.wallMs + encrypt.wallMs,
        peakKiB: Math.max(build.peakKiB, encrypt.peakKiB),
      };
    };

    const capgo = async (): Promise<Run> => {
      rmSync(join(project, 'capgo-bundle.zip'), { force: true });
      rmSync(join(project, 'capgo-bundle_encrypted.zip'), { force: true });
      const zip = await step(
        [
          OFFLINE_FETCH,
          CAPGO_BIN,
          'bundle',
          'zip',
          APP_ID,
          '--path',
          'www',
          '--json',
          '--name',
          'capgo-bundle',
        ],
        project,
        capgoEnv,
      );
      const zipped = jsonOf(zip.stdout);
      const encrypt = await step(
        [
          OFFLINE_FETCH,
          CAPGO_BIN,
          'bundle',
          'encrypt',
          String(zipped['filename']),
          String(zipped['checksum']),
          '--key',
          keyFile,
          '--json',
        ],
        project,
        capgoEnv,
      );
      const encrypted = jsonOf(encrypt.stdout);
      if (typeof encrypted['ivSessionKey'] !== 'string') {
        throw new Error(`capgo bundle encrypt printed no session key:\n${encrypt.stdout}`);
      }
      return {
        wallMs: zip.wallMs + encrypt.wallMs,
        peakKiB: Math.max(zip.peakKiB, encrypt.peakKiB),
      };
    };

    process.stderr.write('warm-up run of each side …\n');
    await airlock();
    await capgo();

    // The bundle Airlock wrote must be one a phone accepts, or the timing means nothing.
    const info = JSON.parse(readFileSync(join(out, 'airlock.enc.json'), 'utf8')) as Record<
      string,
      string
    >;
    const publicFile = join(tmp.path, 'public.pem');
    writeFileSync(publicFile, publicPem);
    execFileSync(
      process.execPath,
      [
        CLI_PATH,
        'bundle',
        'verify',
        join(out, 'airlock.enc'),
        '--public-key',
        publicFile,
        '--session-key',
        String(info['sessionKey']),
        '--checksum',
        String(info['checksum']),
      ],
      { env: airlockEnv, stdio: 'ignore' },
    );

    const airlockRuns: Run[] = [];
    const capgoRuns: Run[] = [];
    for (let i = 0; i < RUNS; i += 1) {
      // Alternate which side goes first so neither always inherits a warm or cold page cache.
      const order = i % 2 === 0 ? (['airlock', 'capgo'] as const) : (['capgo', 'airlock'] as const);
      for (const side of order) {
        const run = side === 'airlock' ? await airlock() : await capgo();
        (side === 'airlock' ? airlockRuns : capgoRuns).push(run);
        process.stderr.write(
          `run ${i + 1}/${RUNS} ${side.padEnd(7)} ${(run.wallMs / 1000).toFixed(2)} s, peak ${(run.peakKiB / 1024).toFixed(0)} MiB\n`,
        );
      }
    }

    const airlockMs = median(airlockRuns.map((r) => r.wallMs));
    const capgoMs = median(capgoRuns.map((r) => r.wallMs));
    const airlockPeak = Math.max(...airlockRuns.map((r) => r.peakKiB)) / 1024;
    const capgoPeak = Math.max(...capgoRuns.map((r) => r.peakKiB)) / 1024;
    const ratio = airlockMs / capgoMs;
    const mib = (stats.bytes / 1024 / 1024).toFixed(1);
    console.log(`bundle build + encrypt, ${mib} MiB in ${stats.files} files, ${RUNS} runs each`);
    console.log(
      `airlock: median ${(airlockMs / 1000).toFixed(2)} s, peak RSS ${airlockPeak.toFixed(0)} MiB`,
    );
    console.log(
      `capgo:   median ${(capgoMs / 1000).toFixed(2)} s, peak RSS ${capgoPeak.toFixed(0)} MiB`,
    );
    console.log(
      `ratio airlock/capgo: ${ratio.toFixed(2)}x (target <= 0.50x: ${ratio <= 0.5 ? 'met' : 'NOT met'}); ` +
        `memory: ${airlockPeak < capgoPeak ? 'lower' : 'NOT lower'} (${(airlockPeak / capgoPeak).toFixed(2)}x)`,
    );
  } finally {
    tmp.cleanup();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
