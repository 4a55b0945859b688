import { parseArgs } from 'node:util';
import { AirlockError } from '../core/errors';

/** A mistake in how a command was called: exit code 2, with the command's usage line. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
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
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new UsageError(`${reason}\nusage: ${positionals.usage}`);
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
