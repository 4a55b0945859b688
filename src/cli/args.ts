import { parseArgs } from 'node:util';
import { AirlockError } from '../core/errors';

/** A mistake in how a command was called: exit code 2, with the command's usage line. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }

  /** The usage text the message ends with (after "usage:"), for `--help`. */
  get usage(): string {
    const at = this.message.indexOf('usage:');
    return at === -1 ? this.message : this.message.slice(at + 'usage:'.length).trim();
  }
}

/** `--help` or `-h` was given: print the command's usage on stdout and exit 0. */
export class HelpRequested extends Error {
  constructor(readonly usage: string) {
    super('help requested');
    this.name = 'HelpRequested';
  }
}

export function wantsHelp(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).some((arg) => arg === '--help' || arg === '-h');
}

/** Levenshtein distance, for "did you mean" (short strings only). */
function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) {
      next[j] = Math.min(
        (row[j] ?? 0) + 1,
        (next[j - 1] ?? 0) + 1,
        (row[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    row = next;
  }
  return row[b.length] ?? 0;
}

/** The known option nearest to `given` (within a third of its length), or null. */
export function nearestOption(given: string, known: readonly string[]): string | null {
  let best: { name: string; d: number } | null = null;
  for (const name of known) {
    const d = distance(given, name);
    if (best === null || d < best.d) best = { name, d };
  }
  return best !== null && best.d <= Math.max(2, Math.floor(given.length / 3)) ? best.name : null;
}

/** A one-sentence reason for a parseArgs error, suggesting the nearest flag for an unknown one. */
function parseFailure(error: unknown, options: OptionSpec): string {
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : String(error);
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const flag = /'(-{1,2}[^'\s]+)'/.exec(message)?.[1] ?? '';
    const near = nearestOption(flag.replace(/^-+/, ''), Object.keys(options));
    return `unknown option ${flag}${near === null ? '' : `; did you mean --${near}?`}`;
  }
  return message;
}

type OptionSpec = Record<
  string,
  { type: 'string' | 'boolean'; multiple?: boolean; short?: string }
>;

export interface ParsedCommand<O extends OptionSpec> {
  readonly positionals: string[];
  readonly values: { [K in keyof O]?: O[K]['type'] extends 'boolean' ? boolean : string };
}

/** Strict parsing: unknown flags and missing values are usage errors, never silently ignored. */
export function parseCommand<O extends OptionSpec>(
  argv: readonly string[],
  options: O,
  positionals: { min: number; max: number; usage: string },
): ParsedCommand<O> {
  if (wantsHelp(argv)) throw new HelpRequested(positionals.usage);
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(`${parseFailure(error, options)}\nusage: ${positionals.usage}`);
  }
  if (parsed.positionals.length < positionals.min || parsed.positionals.length > positionals.max) {
    throw new UsageError(`usage: ${positionals.usage}`);
  }
  return parsed;
}

/** A required flag's value, or a usage error naming it. */
export function required(value: string | undefined, flag: string, usage: string): string {
  if (value === undefined || value === '')
    throw new UsageError(`${flag} is required\nusage: ${usage}`);
  return value;
}

/** One of a fixed set of values. */
export function oneOf<T extends string>(value: string, allowed: readonly T[], flag: string): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new AirlockError(
    'INVALID_ARGUMENT',
    `${flag} must be one of ${allowed.join(', ')}; got "${value}".`,
  );
}
