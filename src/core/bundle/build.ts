import { randomBytes } from 'node:crypto';
import type { Stats } from 'node:fs';
import { lstat, readdir, realpath, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { AirlockError } from '../errors';
import {
  refuseNativeContent as checkNativeContent,
  refuseNativeName as checkNativeName,
} from './native-code';
import { ZIP32_MAX_ENTRIES } from './zip-format';
import { checkEntryName, checkPluginPathRules } from './zip-reader';
import { writeZip, type ZipFileSource } from './zip-writer';

/**
 * `airlock bundle build`: a web build folder → a deterministic ZIP the stock plugin installs
 * (ARCHITECTURE.md §8, PROTOCOL.md §3.3 and §7 step 2). The same folder gives the same bytes every time and
 * from any location: names are relative, entries sorted, no timestamps, owners or permissions.
 * Nothing in the folder is skipped, hidden files included; empty folders are not recorded (the
 * plugin creates folders from file paths).
 */

export interface BundleBuildProgress {
  readonly done: number;
  /** During "scan" the total is not known yet and equals `done`. */
  readonly total: number;
  readonly phase: 'scan' | 'zip';
}

export interface BundleBuildOptions {
  readonly onProgress?: (progress: BundleBuildProgress) => void;
}

export interface BundleBuildResult {
  /** Lowercase hex SHA-256 of the ZIP: the Capgo checksum before signing. */
  readonly sha256: string;
  readonly size: number;
  /** Number of files in the ZIP. */
  readonly files: number;
}

interface ScanContext {
  readonly root: string;
  readonly files: ZipFileSource[];
  readonly onProgress: BundleBuildOptions['onProgress'];
}

function isInside(root: string, target: string): boolean {
  const rel = relative(root, target);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

function ioError(path: string, error: unknown): AirlockError<'IO_ERROR'> {
  return new AirlockError('IO_ERROR', `Cannot read ${path}: ${(error as Error).message}`, {
    cause: error,
  });
}

function specialFile(name: string): AirlockError<'BUNDLE_SPECIAL_FILE'> {
  return new AirlockError(
    'BUNDLE_SPECIAL_FILE',
    `${name} is not a regular file or folder (a FIFO, socket or device); remove it from the folder.`,
  );
}

function addFile(ctx: ScanContext, name: string, file: string, stats: Stats): void {
  checkNativeName(name, false);
  if (ctx.files.length >= ZIP32_MAX_ENTRIES) {
    throw new AirlockError(
      'BUNDLE_TOO_LARGE',
      `The folder has more than ${ZIP32_MAX_ENTRIES} files, the most a ZIP32 archive can hold.`,
    );
  }
  ctx.files.push({ name, file, size: stats.size });
}

/**
 * A symlink is followed when it resolves inside the folder: a file is stored under the link's name
 * with the target's content, a folder is walked. Anything else is refused, naming the link.
 */
async function followLink(
  ctx: ScanContext,
  name: string,
  link: string,
  ancestors: ReadonlySet<string>,
): Promise<void> {
  let target: string;
  try {
    target = await realpath(link);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ELOOP' ? 'is part of a symlink loop' : 'is a dangling symlink';
    if (code !== 'ELOOP' && code !== 'ENOENT') throw ioError(name, error);
    throw new AirlockError(
      'BUNDLE_SYMLINK_OUTSIDE',
      `${name} ${why}; it points to no file in the folder.`,
      {
        cause: error,
      },
    );
  }
  if (!isInside(ctx.root, target)) {
    throw new AirlockError(
      'BUNDLE_SYMLINK_OUTSIDE',
      `${name} is a symlink to ${target}, outside the folder being bundled.`,
    );
  }
  const stats = await stat(target).catch((error: unknown) => {
    throw ioError(name, error);
  });
  if (stats.isFile()) return addFile(ctx, name, target, stats);
  if (!stats.isDirectory()) throw specialFile(name);
  if (ancestors.has(target)) {
    throw new AirlockError(
      'BUNDLE_SYMLINK_OUTSIDE',
      `${name} is a symlink to one of its own parent folders, which would loop forever.`,
    );
  }
  checkNativeName(name, true);
  await walk(ctx, target, `${name}/`, new Set([...ancestors, target]));
}

async function visit(
  ctx: ScanContext,
  path: string,
  name: string,
  stats: Stats,
  ancestors: ReadonlySet<string>,
): Promise<void> {
  if (stats.isSymbolicLink()) return followLink(ctx, name, path, ancestors);
  if (stats.isFile()) return addFile(ctx, name, path, stats);
  if (stats.isDirectory()) {
    checkNativeName(name, true);
    return walk(ctx, path, `${name}/`, new Set([...ancestors, path]));
  }
  throw specialFile(name);
}

/** Depth first, children in code-unit order, so the first problem reported is always the same one. */
async function walk(
  ctx: ScanContext,
  dir: string,
  prefix: string,
  ancestors: ReadonlySet<string>,
): Promise<void> {
  let children: string[];
  try {
    children = (await readdir(dir)).sort();
  } catch (error) {
    throw ioError(prefix || '.', error);
  }
  const stats = await Promise.all(
    children.map((child) => lstat(join(dir, child)).catch((error: unknown) => error as Error)),
  );
  for (const [i, child] of children.entries()) {
    const name = `${prefix}${child}`;
    // Plugin rules first (PROTOCOL.md §3.3): e.g. a "\" in a name → windows_path_fail on phones.
    checkEntryName(name);
    const childStats = stats[i];
    if (!childStats || childStats instanceof Error) throw ioError(name, childStats);
    await visit(ctx, join(dir, child), name, childStats, ancestors);
  }
  ctx.onProgress?.({ done: ctx.files.length, total: ctx.files.length, phase: 'scan' });
}

async function resolveFolder(webDir: string): Promise<string> {
  let root: string;
  try {
    root = await realpath(webDir);
  } catch (error) {
    throw new AirlockError(
      'INVALID_INPUT',
      `The folder ${webDir} does not exist or cannot be read.`,
      {
        cause: error,
      },
    );
  }
  if (!(await stat(root)).isDirectory()) {
    throw new AirlockError('INVALID_INPUT', `${webDir} is not a folder.`);
  }
  return root;
}

/** The bundle must not be written into the folder it is made from: the next build would include it. */
async function checkOutputOutside(root: string, outFile: string): Promise<void> {
  const outDir = await realpath(dirname(resolve(outFile))).catch(() => dirname(resolve(outFile)));
  if (isInside(root, join(outDir, basename(outFile)))) {
    throw new AirlockError(
      'INVALID_INPUT',
      `The bundle ${outFile} must be written outside ${root}.`,
    );
  }
}

/**
 * Scans `webDir` and refuses what a phone or an app store would refuse, before anything is written.
 */
async function scanFolder(root: string, options: BundleBuildOptions): Promise<ZipFileSource[]> {
  const ctx: ScanContext = { root, files: [], onProgress: options.onProgress };
  await walk(ctx, root, '', new Set([root]));
  if (ctx.files.length === 0) {
    throw new AirlockError('BUNDLE_EMPTY', `The folder ${root} contains no files.`);
  }
  checkPluginPathRules(ctx.files);
  return ctx.files;
}

/**
 * Builds the bundle ZIP of a web build folder (`airlock bundle build`). Requires `index.html` at the
 * root of the folder or in its only top-level folder (PROTOCOL.md §3.3). Refuses names with "\",
 * symlinks that do not resolve to a file or folder inside, FIFOs, sockets and devices, and native
 * code by name or content (ARCHITECTURE.md §3 "Store rules"). Writes `outFile + '.tmp-…'` and renames it, so a
 * failure never leaves a partial bundle at `outFile`.
 *
 * @throws AirlockError BUNDLE_NO_INDEX, BUNDLE_PATH_REJECTED, BUNDLE_SPECIAL_FILE,
 *   BUNDLE_SYMLINK_OUTSIDE, BUNDLE_NATIVE_CODE, BUNDLE_EMPTY, BUNDLE_TOO_LARGE, INVALID_INPUT, IO_ERROR.
 * @example
 *   const { sha256, size, files } = await buildBundle('dist', 'bundle.zip', {
 *     onProgress: ({ phase, done, total }) => console.log(phase, done, total),
 *   });
 */
export async function buildBundle(
  webDir: string,
  outFile: string,
  options: BundleBuildOptions = {},
): Promise<BundleBuildResult> {
  const root = await resolveFolder(webDir);
  await checkOutputOutside(root, outFile);
  const files = await scanFolder(root, options);
  const temp = `${outFile}.tmp-${randomBytes(6).toString('hex')}`;
  try {
    const result = await writeZip(files, temp, {
      inspect: checkNativeContent,
      onEntry: (done, total) => options.onProgress?.({ done, total, phase: 'zip' }),
    });
    await rename(temp, outFile).catch((error: unknown) => {
      throw new AirlockError('IO_ERROR', `Cannot write ${outFile}: ${(error as Error).message}`, {
        cause: error,
      });
    });
    return result;
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}
