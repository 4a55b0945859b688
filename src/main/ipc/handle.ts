import { toErrorShape } from '../../core/errors';
import { IPC_CHANNELS, type IpcChannel } from '../../shared/ipc/channels';
import {
  contract,
  type IpcRequest,
  type IpcResponse,
  type IpcResponseInput,
  type ProgressEvent,
  type ProgressUpdate,
} from '../../shared/ipc/contract';
import { err, ok, type Result } from '../../shared/result';

/**
 * The trusted side of every IPC call (ARCHITECTURE.md rules 4 and 5, after Signal's `parseUnknown` and
 * `wrapResult`): the payload arrives as `unknown` and is parsed with the channel's zod schema before
 * any handler sees it; whatever the handler returns is parsed with the response schema (which drops
 * fields nobody declared); whatever it throws becomes `{ code, message }`. Nothing here imports
 * electron: `register.ts` (Electron IPC) and the test bridge call the very same function.
 */

/** What a handler may do besides returning: report progress of long work. */
export interface HandlerContext {
  progress(update: Omit<ProgressUpdate, 'label'> & { label?: string | null }): void;
}

export type Handler<C extends IpcChannel> = (
  input: IpcRequest<C>,
  ctx: HandlerContext,
) => Promise<IpcResponseInput<C>>;

/** One handler per channel, no more, no less. */
export type HandlerTable = { readonly [C in IpcChannel]: Handler<C> };

export interface InvokeOptions {
  /** Where progress events go (the window that asked, or the bridge's event stream). */
  readonly progress?: (event: ProgressEvent) => void;
  /** Told about unexpected errors (logged by main); never shown to the window. */
  readonly onInternalError?: (channel: string, error: unknown) => void;
  /** Minimum time between two progress events of one call; the last one always goes out. */
  readonly progressIntervalMs?: number;
}

const INTERNAL_MESSAGE = 'An unexpected internal error occurred.';

export function isIpcChannel(name: unknown): name is IpcChannel {
  return typeof name === 'string' && (IPC_CHANNELS as readonly string[]).includes(name);
}

/** The first problem zod found, as `field "a.b": message`, without echoing the input. */
function describeIssue(error: {
  issues: readonly { path: readonly PropertyKey[]; message: string }[];
}): string {
  const issue = error.issues[0];
  if (issue === undefined) return 'it is malformed';
  const field = issue.path.map(String).join('.');
  const message = issue.message.length > 200 ? `${issue.message.slice(0, 200)}…` : issue.message;
  return field === '' ? message : `field "${field}": ${message}`;
}

function operationIdOf(input: unknown): string | null {
  if (typeof input !== 'object' || input === null) return null;
  const id = (input as { operationId?: unknown }).operationId;
  return typeof id === 'string' ? id : null;
}

/** A progress reporter for one call: throttled, and silent after the call has answered. */
function progressContext(
  channel: IpcChannel,
  operationId: string | null,
  options: InvokeOptions,
): { ctx: HandlerContext; close(): void } {
  const sink = options.progress;
  const interval = options.progressIntervalMs ?? 100;
  let last = 0;
  let closed = false;
  return {
    ctx: {
      progress(update) {
        if (sink === undefined || closed) return;
        const now = Date.now();
        const final = update.total > 0 && update.done >= update.total;
        if (!final && now - last < interval) return;
        last = now;
        try {
          sink({
            channel,
            operationId,
            phase: update.phase,
            done: update.done,
            total: update.total,
            unit: update.unit,
            label: update.label ?? null,
          });
        } catch {
          // A window that went away must not fail the work it asked for.
        }
      },
    },
    close() {
      closed = true;
    },
  };
}

/**
 * Runs `channel`'s handler on an untrusted payload and answers with a Result:
 * INVALID_INPUT when the payload does not match the request schema, the handler's AirlockError as
 * `{ code, message }`, and INTERNAL (with a fixed sentence) for anything else.
 * @example const result = await invokeHandler(table, 'keys:list', {});
 */
export async function invokeHandler<C extends IpcChannel>(
  table: HandlerTable,
  channel: C,
  payload: unknown,
  options: InvokeOptions = {},
): Promise<Result<IpcResponse<C>>> {
  const schemas = contract[channel];
  const parsed = schemas.request.safeParse(payload);
  if (!parsed.success) {
    return err({
      code: 'INVALID_INPUT',
      message: `The request to ${channel} is invalid: ${describeIssue(parsed.error)}.`,
    });
  }
  const handler = table[channel] as Handler<C>;
  const progress = progressContext(channel, operationIdOf(parsed.data), options);
  let value: unknown;
  try {
    value = await handler(parsed.data as IpcRequest<C>, progress.ctx);
  } catch (error) {
    const shape = toErrorShape(error);
    if (shape.code === 'INTERNAL') options.onInternalError?.(channel, error);
    return err(shape.code === 'INTERNAL' ? { code: 'INTERNAL', message: INTERNAL_MESSAGE } : shape);
  } finally {
    progress.close();
  }
  const answer = schemas.response.safeParse(value);
  if (!answer.success) {
    options.onInternalError?.(
      channel,
      new Error(`response does not match its schema: ${describeIssue(answer.error)}`),
    );
    return err({ code: 'INTERNAL', message: INTERNAL_MESSAGE });
  }
  return ok(answer.data as IpcResponse<C>);
}

/**
 * The same for a channel name that is itself untrusted (the test bridge's URL path): NOT_FOUND for
 * a name that is not in channels.ts.
 */
export async function invokeByName(
  table: HandlerTable,
  channel: string,
  payload: unknown,
  options: InvokeOptions = {},
): Promise<Result<unknown>> {
  if (!isIpcChannel(channel)) {
    return err({ code: 'NOT_FOUND', message: 'There is no such IPC channel.' });
  }
  return invokeHandler(table, channel, payload, options);
}
