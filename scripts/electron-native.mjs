// Prepares `.electron-native/`: a copy of better-sqlite3 compiled for the installed Electron, for
// running the console from a checkout (`npm start`, `npm run dev`). The main process loads that
// binary through better-sqlite3's `nativeBinding` option (src/main/index.ts); node_modules stays
// compiled for Node, so the CLI, the server and `npm test` keep working. Packaged builds do not use
// this: electron-builder rebuilds the native modules inside the package.
//
// Usage: node scripts/electron-native.mjs   (does nothing when the binary is already there and was
// built for the same Electron, better-sqlite3, platform and architecture).

import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const NODE_MODULES = join(ROOT, 'node_modules');
const NATIVE_DIR = join(ROOT, '.electron-native');
const NATIVE_MODULES = join(NATIVE_DIR, 'node_modules');
const MODULE = 'better-sqlite3';
// What better-sqlite3's own loader needs at run time (its `bindings` dependency and that one's).
const RUNTIME_DEPS = ['bindings', 'file-uri-to-path'];
const BINARY = join('build', 'Release', 'better_sqlite3.node');
const OUTPUT = join(NATIVE_MODULES, MODULE, BINARY);
const NODE_BINARY = join(NODE_MODULES, MODULE, BINARY);
const STAMP = join(NATIVE_DIR, 'stamp.json');
const LOG = join(NATIVE_DIR, 'rebuild.log');
// npm passes its config to scripts as npm_config_* variables, and node-gyp applies them over the
// arguments @electron/rebuild gives it. `nodedir` (README/CI set npm_config_nodedir=/usr) would make
// node-gyp compile against Node's headers instead of Electron's, and the others would redirect the
// target, the runtime or where the headers come from.
const NODE_GYP_OVERRIDES = new Set([
  'nodedir',
  'target',
  'runtime',
  'disturl',
  'dist_url',
  'arch',
  'tarball',
  'devdir',
  'build_from_source',
]);

const show = (path) => relative(ROOT, path) || '.';

class Failure extends Error {}

function fail(paragraph) {
  throw new Failure(paragraph);
}

function readVersion(packageDir, what) {
  const file = join(packageDir, 'package.json');
  if (!existsSync(file)) {
    fail(`${what} is not installed (${show(file)} is missing); run "npm ci" first.`);
  }
  return JSON.parse(readFileSync(file, 'utf8')).version;
}

function sha256(file) {
  return existsSync(file) ? createHash('sha256').update(readFileSync(file)).digest('hex') : null;
}

function readStamp() {
  try {
    return JSON.parse(readFileSync(STAMP, 'utf8'));
  } catch {
    return null;
  }
}

/** Removes the npm/node-gyp settings that would make node-gyp build for something else. */
function clearNodeGypOverrides() {
  const cleared = [];
  for (const key of Object.keys(process.env)) {
    const lower = key.toLowerCase();
    const npmConfig = lower.startsWith('npm_config_') && NODE_GYP_OVERRIDES.has(lower.slice(11));
    if (npmConfig || lower.startsWith('npm_package_config_node_gyp_')) {
      cleared.push(key);
      delete process.env[key];
    }
  }
  return cleared;
}

/** Copies a package from node_modules into .electron-native/node_modules, without its build. */
function copyPackage(name) {
  const from = join(NODE_MODULES, name);
  if (!existsSync(join(from, 'package.json'))) {
    fail(`${name} is not installed (${show(from)} is missing); run "npm ci" first.`);
  }
  const buildDir = join(from, 'build');
  cpSync(from, join(NATIVE_MODULES, name), {
    recursive: true,
    dereference: true,
    filter: (source) => source !== buildDir && !source.startsWith(buildDir + sep),
  });
}

async function loadRebuild() {
  try {
    return (await import('@electron/rebuild')).rebuild;
  } catch (cause) {
    fail(
      `Cannot load @electron/rebuild (${cause.message.split('\n')[0]}). It comes with ` +
        `electron-builder, a devDependency: run "npm ci" (not "npm ci --omit=dev") first.`,
    );
  }
}

function explainRebuildFailure(error, output, electronVersion) {
  writeFileSync(LOG, `${output}\n${error.stack ?? String(error)}\n`);
  const text = `${output}\n${error.message}`;
  const unchanged =
    `node_modules is unchanged, so the CLI, the server and "npm test" are not affected, and ` +
    `packaged builds are not either (electron-builder rebuilds inside the package).`;
  // node-gyp downloads the headers into ~/.electron-gyp/<version> (@electron/rebuild's devDir)
  // before it compiles anything, and writes installVersion there last.
  const headers = join(homedir(), '.electron-gyp', electronVersion);
  const network =
    /network connectivity|status code downloading|electronjs\.org|ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|EHOSTUNREACH|getaddrinfo|fetch failed/i;
  const noHeaders = !existsSync(join(headers, 'installVersion')) && !/python/i.test(text);
  if (network.test(text) || noHeaders) {
    return (
      `Cannot build better-sqlite3 for Electron ${electronVersion}: node-gyp could not download ` +
      `Electron's headers, which it compiles against ` +
      `(https://www.electronjs.org/headers/v${electronVersion}/node-v${electronVersion}-headers.tar.gz ` +
      `into ${headers}), so the console window cannot be opened from this checkout. Run this ` +
      `again where electronjs.org is reachable, or once those headers are in that folder. ` +
      `${unchanged} Full node-gyp output: ${show(LOG)}.`
    );
  }
  return (
    `Cannot build better-sqlite3 for Electron ${electronVersion}: ${error.message}. Compiling it ` +
    `needs Python 3, make and a C++ compiler (Debian: "sudo apt-get install python3 make g++"; ` +
    `macOS: Xcode Command Line Tools; Windows: Visual Studio Build Tools) and Electron's headers ` +
    `from electronjs.org. ${unchanged} Full node-gyp output: ${show(LOG)}.`
  );
}

async function main() {
  const electronVersion = readVersion(join(NODE_MODULES, 'electron'), 'Electron');
  const sqliteVersion = readVersion(join(NODE_MODULES, MODULE), MODULE);
  const wanted = {
    electron: electronVersion,
    [MODULE]: sqliteVersion,
    platform: process.platform,
    arch: process.arch,
  };
  const stamp = readStamp();
  if (
    existsSync(OUTPUT) &&
    stamp !== null &&
    Object.entries(wanted).every(([key, value]) => stamp[key] === value)
  ) {
    console.log(
      `electron-native: ${MODULE} ${sqliteVersion} for Electron ${electronVersion} is ready (${show(OUTPUT)}).`,
    );
    return;
  }

  const rebuild = await loadRebuild();
  const nodeBinaryBefore = sha256(NODE_BINARY);

  // A fresh copy each time: nothing half-built or built for another Electron can stay behind.
  rmSync(NATIVE_DIR, { recursive: true, force: true });
  mkdirSync(NATIVE_MODULES, { recursive: true });
  for (const name of [MODULE, ...RUNTIME_DEPS]) copyPackage(name);
  writeFileSync(
    join(NATIVE_DIR, 'package.json'),
    JSON.stringify(
      {
        name: 'airlock-electron-native',
        private: true,
        description: 'better-sqlite3 built for Electron; made by scripts/electron-native.mjs',
        dependencies: { [MODULE]: sqliteVersion },
      },
      null,
      2,
    ) + '\n',
  );

  const cleared = clearNodeGypOverrides();
  console.log(
    `electron-native: building ${MODULE} ${sqliteVersion} for Electron ${electronVersion} in ` +
      `${show(NATIVE_DIR)}` +
      (cleared.length > 0 ? ` (ignoring ${cleared.join(', ')})` : '') +
      '…',
  );

  // @electron/rebuild prints node-gyp's output with console.error when the build fails; keep it
  // for the log file and say what happened in one paragraph instead.
  const captured = [];
  const consoleError = console.error;
  console.error = (...args) => captured.push(args.map(String).join(' '));
  try {
    await rebuild({
      buildPath: NATIVE_DIR,
      // Stops the module search at .electron-native: without it @electron/rebuild also walks up to
      // the repository's node_modules and would rebuild the Node copy of better-sqlite3 in place.
      projectRootPath: NATIVE_DIR,
      electronVersion,
      onlyModules: [MODULE],
      types: ['prod'],
      force: true,
      // Compile against Electron's headers; never fetch prebuilt binaries.
      buildFromSource: true,
      disablePreGypCopy: true,
      mode: 'sequential',
    });
  } catch (error) {
    rmSync(OUTPUT, { force: true });
    fail(explainRebuildFailure(error, captured.join('\n'), electronVersion));
  } finally {
    console.error = consoleError;
  }

  if (sha256(NODE_BINARY) !== nodeBinaryBefore) {
    rmSync(OUTPUT, { force: true });
    fail(
      `The rebuild changed ${show(NODE_BINARY)}, the Node build the CLI and the tests use; run ` +
        `"npm rebuild better-sqlite3" to restore it, and report this as a bug in ` +
        `scripts/electron-native.mjs.`,
    );
  }
  if (!existsSync(OUTPUT)) {
    fail(
      `@electron/rebuild finished but ${show(OUTPUT)} is missing; node_modules is unchanged. ` +
        `Run "DEBUG=electron-rebuild node scripts/electron-native.mjs" to see what it did.`,
    );
  }
  writeFileSync(STAMP, JSON.stringify(wanted, null, 2) + '\n');
  console.log(`electron-native: built ${show(OUTPUT)} for Electron ${electronVersion}.`);
}

try {
  await main();
} catch (error) {
  if (!(error instanceof Failure)) throw error;
  console.error(`electron-native: ${error.message}`);
  process.exitCode = 1;
}
