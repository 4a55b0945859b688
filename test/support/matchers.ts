import { expect } from 'vitest';

/**
 * `toThrowWithCode(code, message?)`: the one way tests assert a refusal (ARCHITECTURE.md §12: tests
 * assert stable error codes, messages only where the sentence is the feature). Works on a function
 * (`expect(() => parse(x)).toThrowWithCode('KEY_INVALID')`) and on a rejection
 * (`await expect(promise).rejects.toThrowWithCode('NOT_FOUND', /connect/)`).
 */

interface CodeMatchers<R = unknown> {
  toThrowWithCode(code: string, message?: RegExp | string): R;
}

declare module 'vitest' {
  // Declaration merging must repeat vitest's own `T = any` exactly (TS2428).
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type, @typescript-eslint/no-explicit-any
  interface Matchers<T = any> extends CodeMatchers<T> {}
}

function thrown(received: unknown): { threw: boolean; error: unknown } {
  if (typeof received !== 'function') return { threw: true, error: received };
  try {
    const value: unknown = (received as () => unknown)();
    if (value instanceof Promise) {
      throw new TypeError(
        'toThrowWithCode got a promise: use `await expect(p).rejects.toThrowWithCode(…)`.',
      );
    }
    return { threw: false, error: undefined };
  } catch (error) {
    if (error instanceof TypeError && error.message.startsWith('toThrowWithCode')) throw error;
    return { threw: true, error };
  }
}

expect.extend({
  toThrowWithCode(received: unknown, code: string, message?: RegExp | string) {
    const { threw, error } = thrown(received);
    const actual = threw ? (error as { code?: unknown } | null)?.code : undefined;
    const text = error instanceof Error ? error.message : String(error);
    const messageOk =
      message === undefined ||
      (typeof message === 'string' ? text.includes(message) : message.test(text));
    const pass = threw && actual === code && messageOk;
    return {
      pass,
      message: () =>
        !threw
          ? `expected an error with code ${code}, but nothing was thrown`
          : pass
            ? `expected no error with code ${code}, got one: ${text}`
            : actual !== code
              ? `expected code ${code}, got ${String(actual)}: ${text}`
              : `expected the message to match ${String(message)}, got: ${text}`,
    };
  },
});
