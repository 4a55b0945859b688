import { createInterface } from 'node:readline';
import { AirlockError } from '../core/errors';

/** `--json` output: one JSON object on stdout (ARCHITECTURE.md §8). */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function printLine(text: string): void {
  process.stdout.write(`${text}\n`);
}

export function warn(text: string): void {
  process.stderr.write(`airlock: warning: ${text}\n`);
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

/**
 * Progress for long work, on stderr and only on a terminal, so that pipes and `--json` stay clean.
 * Redraws at most every 100 ms.
 */
export function progressReporter(label: string): {
  update(done: number, total: number, unit?: 'bytes' | 'files'): void;
  finish(): void;
} {
  const enabled = process.stderr.isTTY === true;
  let last = 0;
  let shown = false;
  return {
    update(done, total, unit = 'files') {
      if (!enabled) return;
      const now = Date.now();
      if (now - last < 100 && done < total) return;
      last = now;
      shown = true;
      const pct = total > 0 ? Math.floor((done / total) * 100) : 0;
      const amount =
        unit === 'bytes' ? `${formatBytes(done)} / ${formatBytes(total)}` : `${done} / ${total}`;
      process.stderr.write(`\r${label} ${String(pct).padStart(3)}%  ${amount}\u001b[K`);
    },
    finish() {
      if (enabled && shown) process.stderr.write('\r\u001b[K');
    },
  };
}

/** Reads a line from the terminal without echoing it. */
async function readHidden(prompt: string): Promise<string> {
  const input = process.stdin;
  const rl = createInterface({ input, output: process.stderr, terminal: true });
  // Mute the echo of what is typed; the prompt itself is written before muting.
  process.stderr.write(prompt);
  const writable = rl as unknown as { _writeToOutput?: (s: string) => void };
  writable._writeToOutput = () => undefined;
  try {
    return await new Promise<string>((resolve) => rl.question('', resolve));
  } finally {
    rl.close();
    process.stderr.write('\n');
  }
}

/**
 * A passphrase from `AIRLOCK_PASSPHRASE`, else typed at the terminal (twice when `confirm`).
 * With neither, a clear error: never a silent empty passphrase.
 */
export async function readPassphrase(purpose: string, confirm: boolean): Promise<string> {
  const fromEnv = process.env['AIRLOCK_PASSPHRASE'];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  if (process.stdin.isTTY !== true) {
    throw new AirlockError(
      'PASSPHRASE_REQUIRED',
      `A passphrase is needed to ${purpose}: set AIRLOCK_PASSPHRASE or run the command in a terminal.`,
    );
  }
  const first = await readHidden(`Passphrase to ${purpose}: `);
  if (first.length < 8) {
    throw new AirlockError(
      'INVALID_ARGUMENT',
      'The passphrase must be at least 8 characters long.',
    );
  }
  if (confirm) {
    const second = await readHidden('Repeat the passphrase: ');
    if (second !== first) throw new AirlockError('INVALID_ARGUMENT', 'The two passphrases differ.');
  }
  return first;
}

/** A yes/no question on the terminal; false when there is no terminal to ask. */
export async function confirm(question: string): Promise<boolean> {
  if (process.stdin.isTTY !== true) return false;
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await new Promise<string>((resolve) =>
      rl.question(`${question} [y/N] `, resolve),
    );
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}
