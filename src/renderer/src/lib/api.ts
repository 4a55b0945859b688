import {
  QueryClient,
  useMutation,
  useQuery as useTanstackQuery,
  useQueryClient,
} from '@tanstack/react-query';
import { useCallback } from 'react';
import type { RendererApi } from '../../../shared/api';
import type { AppErrorShape } from '../../../shared/errors';
import type { Result } from '../../../shared/result';

/**
 * The window's only door to main: `window.api` (named functions, each resolving to a Result; see
 * src/shared/api.ts). Screens never look at `ok` themselves: they get `{ data, error }`. Caching,
 * de-duplication and stale answers are TanStack Query's job (issue 5: well-kept libraries for data
 * fetching); this file only adapts Results to it.
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

/** A Result error carried through TanStack Query, which reports failures by throwing. */
class CallFailed extends Error {
  constructor(readonly shape: AppErrorShape) {
    super(shape.message);
  }
}

/**
 * The window's query cache. Errors are answers from main (a refused input, an unreachable
 * server), not flaky transport, so nothing is retried behind the user's back; screens refetch
 * when they change something, and `useRefreshAll` refreshes every screen after a sync.
 */
export function createQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: { retry: false, refetchOnWindowFocus: false, staleTime: 0 },
      mutations: { retry: false },
    },
  });
}

export interface QueryState<T> {
  readonly data: T | null;
  readonly error: AppErrorShape | null;
  readonly loading: boolean;
  /** Calls again; the previous data stays on screen until the new answer arrives. */
  readonly refetch: () => void;
}

/**
 * Loads `load()` under `key` (shared by every screen asking the same thing); `key === null` skips
 * the call. The previous data stays on screen while a refetch runs.
 */
export function useQuery<T>(key: string | null, load: () => Promise<Result<T>>): QueryState<T> {
  const query = useTanstackQuery({
    queryKey: [key ?? '(disabled)'],
    enabled: key !== null,
    queryFn: async (): Promise<T> => {
      const outcome = await unwrap(load());
      if (outcome.error !== null) throw new CallFailed(outcome.error);
      return outcome.data;
    },
  });
  const { refetch: refetchQuery } = query;
  const refetch = useCallback(
    function refetch() {
      void refetchQuery();
    },
    [refetchQuery],
  );
  const failure = query.error;
  return {
    data: key === null ? null : (query.data ?? null),
    error:
      failure === null
        ? null
        : failure instanceof CallFailed
          ? failure.shape
          : { code: 'INTERNAL', message: failure.message },
    loading: key !== null && query.isFetching,
    refetch,
  };
}

/** Marks every loaded answer stale and refetches what is on screen (after a sync or a push). */
export function useRefreshAll(): () => void {
  const client = useQueryClient();
  return useCallback(
    function refreshAll() {
      void client.invalidateQueries();
    },
    [client],
  );
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
  const mutation = useMutation({
    mutationFn: (args: A): Promise<Outcome<T>> => unwrap(call(...args)),
  });
  const { mutateAsync, reset } = mutation;
  const run = useCallback((...args: A) => mutateAsync(args), [mutateAsync]);
  const outcome = mutation.data ?? null;
  return {
    pending: mutation.isPending,
    error: outcome?.error ?? null,
    data: outcome?.data ?? null,
    run,
    reset,
  };
}
