import { refuse, type RefusalCode } from './refusal';

/**
 * Bounded HTTP for the guard (checklist T1, T2, L5): every request has its own timeout and the
 * check's deadline, every answer a byte limit, and any failure is a refusal with nothing stored.
 * Only `fetch` is used: it is what a WebView has.
 */

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export interface Transport {
  /** GET `url` and parse the JSON body, at most `maxBytes` of it (else refused with `tooLarge`). */
  getJson(url: string, maxBytes: number, tooLarge: RefusalCode): Promise<unknown>;
  /** HEAD `url`: the Content-Length the server announces, or null when it gives none. */
  contentLength(url: string): Promise<number | null>;
}

export interface TransportOptions {
  readonly fetch: FetchLike;
  readonly requestTimeoutMs: number;
  /** Epoch milliseconds after which no request starts or finishes (the check's deadline). */
  readonly deadline: number;
}

async function readBounded(
  response: Response,
  maxBytes: number,
  url: string,
  tooLarge: RefusalCode,
): Promise<string> {
  const announced = Number(response.headers.get('content-length') ?? Number.NaN);
  if (Number.isFinite(announced) && announced > maxBytes) {
    refuse(tooLarge, `${url} announces ${announced} bytes, more than ${maxBytes}.`);
  }
  const body = response.body;
  if (body === null) return '';
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      refuse(tooLarge, `${url} sent more than ${maxBytes} bytes.`);
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
}

function isRefusal(error: unknown): boolean {
  return error instanceof Error && error.name === 'GuardRefusal';
}

/** A transport over `fetch` with the limits of `opts`. */
export function createTransport(opts: TransportOptions): Transport {
  /** One request, headers and body under one timer: `read` runs before the timer is cleared. */
  async function request<T>(
    url: string,
    method: 'GET' | 'HEAD',
    read: (response: Response) => Promise<T>,
  ): Promise<T> {
    const remaining = opts.deadline - Date.now();
    if (remaining <= 0) refuse('TIMEOUT', 'The check ran past its deadline.');
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), Math.min(opts.requestTimeoutMs, remaining));
    try {
      const response = await opts.fetch(url, {
        method,
        signal: controller.signal,
        // Only CORS-safelisted headers: no preflight from the app's WebView. The server marks its
        // JSON no-store, so no stale copy is served (a stale one would look frozen: checklist C3).
        headers: { accept: 'application/json' },
        redirect: 'error',
        credentials: 'omit',
      });
      if (!response.ok) {
        await response.body?.cancel().catch(() => undefined);
        refuse('SERVER_ERROR', `${method} ${url} answered ${response.status}.`);
      }
      return await read(response);
    } catch (error) {
      if (isRefusal(error)) throw error;
      if (controller.signal.aborted) refuse('TIMEOUT', `${method} ${url} took too long.`, error);
      refuse('NETWORK_ERROR', `${method} ${url} failed.`, error);
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    async getJson(url, maxBytes, tooLarge) {
      const text = await request(url, 'GET', async (response) => {
        try {
          return await readBounded(response, maxBytes, url, tooLarge);
        } catch (error) {
          if (isRefusal(error) || (error instanceof Error && error.name === 'AbortError')) {
            throw error;
          }
          refuse('RESPONSE_INVALID', `GET ${url} did not send UTF-8 text.`, error);
        }
      });
      try {
        return JSON.parse(text) as unknown;
      } catch (error) {
        refuse('RESPONSE_INVALID', `GET ${url} did not answer JSON.`, error);
      }
    },
    async contentLength(url) {
      return request(url, 'HEAD', (response) => {
        const length = response.headers.get('content-length');
        return Promise.resolve(length === null ? null : Number(length));
      });
    },
  };
}
