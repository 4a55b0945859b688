/**
 * Just enough semver (semver.org 2.0.0 §11 precedence) for update decisions, allocation-light
 * because it runs on the /updates hot path. Build metadata is ignored for precedence.
 */

export interface Semver {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  /** Pre-release identifiers; empty for a release version. */
  readonly pre: readonly (string | number)[];
}

const STRICT =
  /^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*)?$/;
// semver.coerce: the first run of 1–3 dot-separated numbers anywhere in the string.
const COERCE = /(?:^|[^\d])(\d{1,16})(?:\.(\d{1,16}))?(?:\.(\d{1,16}))?(?:$|[^\d])/;
const NUMERIC = /^\d+$/;
const MAX_LENGTH = 256;

function preIdentifiers(text: string | undefined): (string | number)[] {
  if (text === undefined) return [];
  return text.split('.').map((part) => (NUMERIC.test(part) ? Number(part) : part));
}

/**
 * Parses a strict semver (a leading "v" is tolerated, as the Capgo backend does), or null.
 * @example parseSemver('1.4.2-beta.1') // { major: 1, minor: 4, patch: 2, pre: ['beta', 1] }
 */
export function parseSemver(text: string): Semver | null {
  if (text.length > MAX_LENGTH) return null;
  const match = STRICT.exec(text);
  if (!match) return null;
  const major = Number(match[1]);
  const minor = Number(match[2]);
  const patch = Number(match[3]);
  if (!Number.isSafeInteger(major) || !Number.isSafeInteger(minor) || !Number.isSafeInteger(patch))
    return null;
  return { major, minor, patch, pre: preIdentifiers(match[4]) };
}

/**
 * Like `semver.coerce`, which the Capgo backend applies to `version_build` (PROTOCOL.md §2):
 * a strict version as is, else the first `N[.N[.N]]` in the string with missing parts 0, else null.
 * @example coerceSemver('14 (build 7)') // { major: 14, minor: 0, patch: 0, pre: [] }
 */
export function coerceSemver(text: string): Semver | null {
  if (text.length > MAX_LENGTH) return null;
  const strict = parseSemver(text);
  if (strict) return strict;
  const match = COERCE.exec(text);
  if (!match) return null;
  return {
    major: Number(match[1]),
    minor: Number(match[2] ?? 0),
    patch: Number(match[3] ?? 0),
    pre: [],
  };
}

/** Versions devices report repeat across a fleet (a few native builds, a few bundles). */
const CACHE_LIMIT = 1024;

/**
 * Memoizes `parse` for the hot path, bounded: when full the cache is simply cleared, so a client
 * that sends endless distinct versions costs a re-parse, never memory.
 */
function memoize(parse: (text: string) => Semver | null): (text: string) => Semver | null {
  const cache = new Map<string, Semver | null>();
  return (text) => {
    let parsed = cache.get(text);
    if (parsed === undefined) {
      parsed = parse(text);
      if (cache.size >= CACHE_LIMIT) cache.clear();
      cache.set(text, parsed);
    }
    return parsed;
  };
}

/** {@link parseSemver}, memoized (bounded): for versions that devices send. */
export const parseSemverCached = memoize(parseSemver);
/** {@link coerceSemver}, memoized (bounded): for versions that devices send. */
export const coerceSemverCached = memoize(coerceSemver);

function comparePre(a: readonly (string | number)[], b: readonly (string | number)[]): number {
  // semver §11.3: a version without pre-release has higher precedence.
  if (a.length === 0) return b.length === 0 ? 0 : 1;
  if (b.length === 0) return -1;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i] as string | number;
    const y = b[i] as string | number;
    if (x === y) continue;
    // §11.4.3: numeric identifiers have lower precedence than alphanumeric ones.
    if (typeof x === 'number' && typeof y === 'number') return x < y ? -1 : 1;
    if (typeof x === 'number') return -1;
    if (typeof y === 'number') return 1;
    return x < y ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

/**
 * Semver precedence: negative when a < b, 0 when equal, positive when a > b.
 * @example compareSemver(parseSemver('1.0.0-rc.1')!, parseSemver('1.0.0')!) // -1
 */
export function compareSemver(a: Semver, b: Semver): number {
  if (a.major !== b.major) return a.major < b.major ? -1 : 1;
  if (a.minor !== b.minor) return a.minor < b.minor ? -1 : 1;
  if (a.patch !== b.patch) return a.patch < b.patch ? -1 : 1;
  return comparePre(a.pre, b.pre);
}
