import type { z } from 'zod';
import type { VerdictSchema } from '../../../shared/schemas/server-api';

type Verdict = z.infer<typeof VerdictSchema>;

/**
 * The policy progress as one line, e.g. `1/2 approvals: missing signing_officer`. Main evaluates
 * the verdict under the pinned trust root and phrases it (src/core/policy/evaluate.ts).
 */
export function verdictLine(verdict: Verdict | null): string {
  if (verdict === null) return 'No policy verdict: not tied to a server';
  return verdict.summary;
}

/** The first characters of a long hex id, enough to recognize it. */
export function shortId(id: string, length = 12): string {
  return id.length > length ? `${id.slice(0, length)}…` : id;
}

/** A timestamp in the user's locale; the raw value when it does not parse. */
export function when(iso: string): string {
  const time = Date.parse(iso);
  return Number.isNaN(time) ? iso : new Date(time).toLocaleString();
}

/** A byte count for people: `512 B`, `4.2 KiB`, `31.0 MiB`. */
export function bytes(count: number): string {
  if (count < 1024) return `${count} B`;
  if (count < 1024 * 1024) return `${(count / 1024).toFixed(1)} KiB`;
  return `${(count / (1024 * 1024)).toFixed(1)} MiB`;
}
