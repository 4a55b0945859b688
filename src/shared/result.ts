import type { AppErrorShape } from './errors';

/**
 * What crosses a process or network boundary: never a thrown error (ARCHITECTURE.md rule 5; Signal `wrapResult`).
 * Prototypes do not survive IPC or JSON, so errors travel as plain `{ code, message }`.
 */
export type Result<T, E extends AppErrorShape = AppErrorShape> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: E };

export function ok<T>(value: T): Result<T, never> {
  return { ok: true, value };
}

export function err<E extends AppErrorShape>(error: E): Result<never, E> {
  return { ok: false, error };
}
