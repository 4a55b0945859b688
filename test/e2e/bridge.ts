import { randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile, realpath } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { invokeByName, isIpcChannel, type HandlerTable } from '../../src/main/ipc/handle';
import { API_LAYOUT } from '../../src/shared/ipc/channels';
import type { ProgressEvent } from '../../src/shared/ipc/contract';

/**
 * TEST-ONLY (ARCHITECTURE.md §10). Stands in for Electron's IPC transport and nothing else: the renderer
 * built by electron-vite, loaded in Chromium by Playwright, calls the real handler table
 * (src/main/ipc/handlers.ts) through the same `invokeHandler` that register.ts uses, so payloads
 * are validated and errors mapped exactly as in the app.
 *
 * - Listens on 127.0.0.1 only, on a random port, with a random token (32 bytes) that every IPC call
 *   and the event stream must carry; requests for another Host are refused (DNS rebinding).
 * - `POST /ipc/<channel>` with a JSON body answers the handler's Result as JSON.
 * - `GET /events?token=…` is a server-sent event stream of progress events.
 * - Anything else is a static file of the built renderer (out/renderer), so the page and the bridge
 *   share one origin and the page's CSP (`connect-src 'self'`) holds unchanged.
 *
 * `initScript` defines `window.api` with the very shape the preload exposes (API_LAYOUT), plus
 * `window.__airlockBridge.ready`, a promise that settles once the event stream is open. Inject it
 * with Playwright's `context.addInitScript(bridge.initScript)` before the page loads.
 * Never import this file from src/.
 */

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAX_BODY_BYTES = 16 * 1024 * 1024;

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
};

export interface BridgeOptions {
  readonly handlers: HandlerTable;
  /** The built renderer (default: out/renderer of this repository). */
  readonly rendererDir?: string;
  /** What `window.api.platform` says (default: this machine's). */
  readonly platform?: string;
  readonly onInternalError?: (channel: string, error: unknown) => void;
}

export interface Bridge {
  /** `http://127.0.0.1:<port>`: open it in the browser after injecting `initScript`. */
  readonly url: string;
  readonly token: string;
  /** The browser-side `window.api`, as a script for `addInitScript`. */
  readonly initScript: string;
  close(): Promise<void>;
}

/**
 * Runs in the page (a string, so no test transpiler can add helpers it would not find there).
 * Mirrors src/preload/index.ts: one function per API_LAYOUT entry, `{}` when called without input,
 * listeners get the progress payload only.
 */
const BROWSER_API = `(function installAirlockBridge(arg) {
  'use strict';
  function call(channel) {
    return async function (input) {
      const response = await fetch(arg.url + '/ipc/' + encodeURIComponent(channel), {
        method: 'POST',
        headers: { authorization: 'Bearer ' + arg.token, 'content-type': 'application/json' },
        body: JSON.stringify(input === undefined ? {} : input),
      });
      return response.json();
    };
  }
  const api = { platform: arg.platform };
  for (const [domain, functions] of Object.entries(arg.layout)) {
    const group = {};
    for (const [name, channel] of Object.entries(functions)) group[name] = call(channel);
    api[domain] = Object.freeze(group);
  }
  const listeners = new Set();
  const source = new EventSource(arg.url + '/events?token=' + encodeURIComponent(arg.token));
  const ready = new Promise(function (resolve, reject) {
    source.addEventListener('open', function () { resolve(true); }, { once: true });
    source.addEventListener('error', function () { reject(new Error('bridge events failed')); }, { once: true });
  });
  ready.catch(function () {});
  source.onmessage = function (message) {
    const event = JSON.parse(message.data);
    for (const listener of listeners) listener(event);
  };
  api.onProgress = function (listener) {
    listeners.add(listener);
    return function () { listeners.delete(listener); };
  };
  Object.defineProperty(window, 'api', { value: Object.freeze(api), enumerable: true });
  Object.defineProperty(window, '__airlockBridge', { value: Object.freeze({ ready }) });
})`;

/** Constant-time comparison of a presented token with ours. */
function tokenMatches(presented: string | null | undefined, token: string): boolean {
  if (typeof presented !== 'string') return false;
  const a = Buffer.from(presented);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

function refuse(res: ServerResponse, status: number, code: string, message: string): void {
  sendJson(res, status, { ok: false, error: { code, message } });
}

async function readBody(req: IncomingMessage): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) return null;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/**
 * Starts the bridge over `options.handlers`.
 * @example
 * const bridge = await startBridge({ handlers: createHandlers(deps) });
 * await context.addInitScript(bridge.initScript);
 * await page.goto(bridge.url);
 */
export async function startBridge(options: BridgeOptions): Promise<Bridge> {
  const token = randomBytes(32).toString('base64url');
  const rendererDir = await realpath(options.rendererDir ?? join(REPO_ROOT, 'out', 'renderer'));
  const streams = new Set<ServerResponse>();
  let origin = '';

  function broadcast(event: ProgressEvent): void {
    const frame = `data: ${JSON.stringify(event)}\n\n`;
    for (const stream of streams) stream.write(frame);
  }

  async function ipc(req: IncomingMessage, res: ServerResponse, channel: string): Promise<void> {
    const auth = req.headers.authorization;
    if (!tokenMatches(auth?.startsWith('Bearer ') ? auth.slice(7) : null, token)) {
      refuse(res, 401, 'FORBIDDEN', 'The bridge token is missing or wrong.');
      return;
    }
    // Forces a CORS preflight for any cross-origin caller; the bridge never answers one.
    if (req.headers['content-type'] !== 'application/json') {
      refuse(res, 415, 'INVALID_INPUT', 'The bridge takes application/json only.');
      return;
    }
    const body = await readBody(req);
    if (body === null) {
      refuse(res, 413, 'PAYLOAD_TOO_LARGE', 'The request is larger than 16 MiB.');
      return;
    }
    let payload: unknown;
    try {
      payload = JSON.parse(body.toString('utf8'));
    } catch {
      refuse(res, 400, 'INVALID_INPUT', 'The request body is not JSON.');
      return;
    }
    const result = await invokeByName(options.handlers, channel, payload, {
      progress: broadcast,
      ...(options.onInternalError === undefined
        ? {}
        : { onInternalError: options.onInternalError }),
    });
    sendJson(res, isIpcChannel(channel) ? 200 : 404, result);
  }

  function events(req: IncomingMessage, res: ServerResponse, url: URL): void {
    if (!tokenMatches(url.searchParams.get('token'), token)) {
      refuse(res, 401, 'FORBIDDEN', 'The bridge token is missing or wrong.');
      return;
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-store',
      connection: 'keep-alive',
    });
    res.write(': airlock bridge\n\n');
    streams.add(res);
    req.on('close', () => streams.delete(res));
  }

  async function staticFile(res: ServerResponse, pathname: string): Promise<void> {
    const relative = decodeURIComponent(pathname === '/' ? '/index.html' : pathname);
    let file: string;
    try {
      file = await realpath(join(rendererDir, relative));
    } catch {
      refuse(res, 404, 'NOT_FOUND', 'No such file.');
      return;
    }
    if (!file.startsWith(rendererDir + sep)) {
      refuse(res, 404, 'NOT_FOUND', 'No such file.');
      return;
    }
    const content = await readFile(file).catch(() => null);
    if (content === null) {
      refuse(res, 404, 'NOT_FOUND', 'No such file.');
      return;
    }
    res.writeHead(200, {
      'content-type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream',
      'content-length': content.length,
      'cache-control': 'no-store',
    });
    res.end(content);
  }

  const server = createServer((req, res) => {
    void (async () => {
      // Only requests addressed to this very socket: no DNS-rebound names, no other origins.
      if (req.headers.host !== new URL(origin).host) {
        refuse(res, 403, 'FORBIDDEN', 'Wrong host.');
        return;
      }
      const requestOrigin = req.headers.origin;
      if (requestOrigin !== undefined && requestOrigin !== origin) {
        refuse(res, 403, 'FORBIDDEN', 'Wrong origin.');
        return;
      }
      const url = new URL(req.url ?? '/', origin);
      const ipcMatch = /^\/ipc\/([^/]+)$/.exec(url.pathname);
      if (ipcMatch !== null) {
        if (req.method !== 'POST') {
          refuse(res, 405, 'METHOD_NOT_ALLOWED', 'IPC calls are POST.');
          return;
        }
        await ipc(req, res, decodeURIComponent(ipcMatch[1] as string));
        return;
      }
      if (req.method !== 'GET') {
        refuse(res, 405, 'METHOD_NOT_ALLOWED', 'Only GET here.');
        return;
      }
      if (url.pathname === '/events') {
        events(req, res, url);
        return;
      }
      await staticFile(res, url.pathname);
    })().catch(() => {
      if (!res.headersSent) refuse(res, 500, 'INTERNAL', 'The bridge failed.');
      else res.destroy();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  origin = `http://127.0.0.1:${port}`;
  const arg = {
    url: origin,
    token,
    layout: API_LAYOUT,
    platform: options.platform ?? process.platform,
  };
  return {
    url: origin,
    token,
    initScript: `${BROWSER_API}(${JSON.stringify(arg)});`,
    async close() {
      for (const stream of streams) stream.end();
      streams.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
