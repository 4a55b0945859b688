import type { ServerResponse } from 'node:http';
import { sendError } from './http';
import type { RateLimiter } from '../rate-limit';

/**
 * Charges one request to `key` and, when its bucket is empty, answers 429 with `Retry-After`,
 * which the plugin honours (PROTOCOL.md §3.2: it blocks all calls until then). Returns the status
 * sent, or null when the request may go on (or the limit is off).
 */
export function sendRateLimited(
  res: ServerResponse,
  limiter: RateLimiter | null,
  key: string,
  nowMs: number,
): number | null {
  if (limiter === null) return null;
  const decision = limiter.take(key, 1, nowMs);
  if (decision.allowed) return null;
  const wait = decision.retryAfterSeconds;
  return sendError(
    res,
    429,
    {
      error: 'too_many_requests',
      message: `Too many requests; retry in ${wait} s.`,
      retryAfterSeconds: wait,
    },
    { 'retry-after': wait },
  );
}
