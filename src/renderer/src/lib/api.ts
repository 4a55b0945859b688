import { useCallback, useEffect, useRef, useState } from 'react';
import type { RendererApi } from '../../../shared/api';
import type { AppErrorShape } from '../../../shared/errors';
import type { Result } from '../../../shared/result';

/**
 * The window's only door to main: `window.api` (named functions, each resolving to a Result; see
 * src/shared/api.ts). Screens never look at `ok` themselves: they get `{ data, error }`.
 */
export function api(): RendererApi {
  return window.api;
}

/** A call's outcome as UI state: exactly one of `data` and `error` is set. */
export type Outcome<T> =
  | { readonly data: T; readonly error: null }
  | { readonly data: null; readonly error: AppErrorShape };

/**
 * Waits for a call and unwraps its Result. A rejected promise only happens when the transport
 * itself broke (main gone, bridge down): it becomes an INTERNAL error with a readable message.
 */
export async function unwrap<T>(call: Promise<Result<T>>): Promise<Outcome<T>> {
  try {
    const result = await call;
    return result.ok ? { data: result.value, error: null } : { data: null, error: result.error };
  } catch (cause) {
    const detail = cause instanceof Error ? ` (${cause.message})` : '';
    return {
      data: null,
      error: {
        code: 'INTERNAL',
        message: `The console could not reach its main process${detail}. Restart Airlock and try again.`,
      },
    };
  }
}

export interface QueryState<T> {
  readonly data: T | null;
  readonly error: AppErrorShape | null;
  readonly loading: boolean;
  /** Calls again; the previous data stays on screen until the new answer arrives. */
  readonly refetch: () => void;
}

/**
 * Loads `load()` when mounted and whenever `key` changes; `key === null` skips the call. Answers
 * that arrive after a newer call started (or after unmount) are dropped.
 */
export function useQuery<T>(key: string | null, load: () => Promise<Result<T>>): QueryState<T> {
  const [state, setState] = useState<{
    data: T | null;
    error: AppErrorShape | null;
    loading: boolean;
  }>({ data: null, error: null, loading: key !== null });
  const [tick, setTick] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;

  useEffect(() => {
    if (key === null) {
      setState({ data: null, error: null, loading: false });
      return undefined;
    }
    let current = true;
    setState((previous) => ({ ...previous, loading: true }));
    void unwrap(loadRef.current()).then((outcome) => {
      if (current) setState({ data: outcome.data, error: outcome.error, loading: false });
    });
    return () => {
      current = false;
    };
  }, [key, tick]);

  const refetch = useCallback(function refetch() {
    setTick((value) => value + 1);
  }, []);
  return { ...state, refetch };
}

export interface ActionState<A extends unknown[], T> {
  readonly pending: boolean;
  readonly error: AppErrorShape | null;
  readonly data: T | null;
  /** Runs the call; resolves to its outcome (never rejects). */
  readonly run: (...args: A) => Promise<Outcome<T>>;
  readonly reset: () => void;
}

/** A user-triggered call (create, connect, approve…): pending flag, last error, last answer. */
export function useAction<A extends unknown[], T>(
  call: (...args: A) => Promise<Result<T>>,
): ActionState<A, T> {
  const [state, setState] = useState<{
    pending: boolean;
    error: AppErrorShape | null;
    data: T | null;
  }>({ pending: false, error: null, data: null });
  const callRef = useRef(call);
  callRef.current = call;

  const run = useCallback(async function run(...args: A): Promise<Outcome<T>> {
    setState((previous) => ({ ...previous, pending: true, error: null }));
    const outcome = await unwrap(callRef.current(...args));
    setState({ pending: false, error: outcome.error, data: outcome.data });
    return outcome;
  }, []);
  const reset = useCallback(function reset() {
    setState({ pending: false, error: null, data: null });
  }, []);
  return { ...state, run, reset };
}
