import type { ApiLayout, IpcChannel } from './ipc/channels';
import type { IpcRequestInput, IpcResponse, ProgressEvent } from './ipc/contract';
import type { Result } from './result';

/** True when every field of T is optional (the call may omit its argument). */
type AllOptional<T> = Record<never, never> extends T ? true : false;

/** One named function of `window.api`: its channel's request in, its channel's Result out. */
export type ApiCall<C extends IpcChannel> =
  AllOptional<IpcRequestInput<C>> extends true
    ? (input?: IpcRequestInput<C>) => Promise<Result<IpcResponse<C>>>
    : (input: IpcRequestInput<C>) => Promise<Result<IpcResponse<C>>>;

/** `window.api.<domain>.<name>`, typed from `API_LAYOUT` and the contract. */
export type ApiFunctions = {
  readonly [D in keyof ApiLayout]: {
    readonly [F in keyof ApiLayout[D]]: ApiLayout[D][F] extends IpcChannel
      ? ApiCall<ApiLayout[D][F]>
      : never;
  };
};

/**
 * The shape of `window.api` that the preload exposes; the preload object `satisfies` it (STYLE
 * rule 3). Named functions only, one per operation (ARCHITECTURE.md rule 2); each resolves to a Result and
 * never rejects with a domain error (ARCHITECTURE.md rule 5).
 * @example
 * const keys = await window.api.keys.list();
 * if (keys.ok) show(keys.value.keys); else showError(keys.error.code, keys.error.message);
 */
export interface RendererApi extends ApiFunctions {
  readonly platform: string;
  /**
   * Listens to progress of long work (build, encrypt, upload, deliver, verify). Returns the
   * function that stops listening.
   */
  onProgress(listener: (event: ProgressEvent) => void): () => void;
}
