import { readFileSync } from 'node:fs';
import { STATUS_CODES, type Server } from 'node:http';
import type { BlockList, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { SECURITY_HEADERS } from './headers';
import { isTrustedProxy } from './source';

/**
 * The connection edge of the server (ARCHITECTURE.md "Slow and greedy clients", "Clean edges"):
 *
 * - open connections are capped below the process's descriptor limit (read at start), so that the
 *   database, bundle files and the log always find a descriptor; and per peer address, so that one
 *   host cannot take them all. A connection over a cap is closed at once and counted; the counts
 *   go to the log once a second (not a line per refused connection: that would be a flood);
 * - every error Node's HTTP parser raises (malformed requests, headers over 16 KiB, the header
 *   deadline) is answered with a JSON `{error, message}` like every other error.
 */

export interface ConnectionLimits {
  /** Open connections in all. */
  readonly maxConnections: number;
  /** Open connections from one peer address (trusted proxies are exempt). */
  readonly perAddress: number;
}

/** Descriptors kept for everything but connections: the database, bundle files, logs. */
const RESERVED_DESCRIPTORS = 128;

/**
 * The soft limit on open files of this process (Linux: /proc/self/limits), or null where it cannot
 * be read. Node raises the soft limit to the hard one when it starts.
 */
export function descriptorLimit(): number | null {
  try {
    const limits = readFileSync('/proc/self/limits', 'utf8');
    const match = /^Max open files\s+(\d+|unlimited)/m.exec(limits);
    if (match === null) return null;
    return match[1] === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(match[1]);
  } catch {
    return null;
  }
}

/**
 * Caps that fit `limit` descriptors: three quarters of what is left after the reserve (a bundle
 * download holds a file besides its socket), at most 65,536; a quarter of that per address, at
 * least 64 and at most 1,024.
 * @example connectionLimitsFor(1024) // { maxConnections: 672, perAddress: 168 }
 */
export function connectionLimitsFor(limit: number | null): ConnectionLimits {
  const usable = Math.max(64, (limit ?? 4096) - RESERVED_DESCRIPTORS);
  const maxConnections = Math.min(65_536, Math.floor(usable * 0.75));
  const perAddress = Math.min(1024, Math.max(64, Math.floor(maxConnections / 4)));
  return { maxConnections, perAddress: Math.min(perAddress, maxConnections) };
}

/** What was refused since the last report. */
interface Refusals {
  total: number;
  perAddress: number;
}

/**
 * Applies `limits` to `server` and reports refused connections through `log` once a second.
 * Returns a function that stops the reporting (call it when the server closes).
 */
export function guardConnections(
  server: Server,
  limits: ConnectionLimits,
  trusted: BlockList | null,
  log: (fields: Record<string, unknown>) => void,
): () => void {
  server.maxConnections = limits.maxConnections;
  const open = new Map<string, number>();
  const refused: Refusals = { total: 0, perAddress: 0 };
  server.on('drop', () => {
    refused.total++;
  });
  server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress ?? '';
    if (isTrustedProxy(trusted, address)) return;
    const count = (open.get(address) ?? 0) + 1;
    if (count > limits.perAddress) {
      refused.perAddress++;
      socket.destroy();
      return;
    }
    open.set(address, count);
    socket.once('close', () => {
      const left = (open.get(address) ?? 1) - 1;
      if (left === 0) open.delete(address);
      else open.set(address, left);
    });
  });
  const report = setInterval(() => {
    if (refused.total === 0 && refused.perAddress === 0) return;
    log({
      event: 'connections_refused',
      overMaxConnections: refused.total,
      overPerAddress: refused.perAddress,
      maxConnections: limits.maxConnections,
      perAddress: limits.perAddress,
    });
    refused.total = 0;
    refused.perAddress = 0;
  }, 1000);
  report.unref();
  return () => clearInterval(report);
}

interface ParserError {
  readonly code?: string;
}

/** The answer for an error of Node's HTTP parser (a request we never got to route). */
function parserErrorAnswer(error: ParserError): { status: number; error: string; message: string } {
  switch (error.code) {
    case 'HPE_HEADER_OVERFLOW':
      return {
        status: 431,
        error: 'headers_too_large',
        message: 'The request headers are too large.',
      };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return {
        status: 408,
        error: 'request_timeout',
        message: 'The request headers did not arrive in time.',
      };
    default:
      return { status: 400, error: 'bad_request', message: 'The request is not valid HTTP/1.1.' };
  }
}

/** Node's `_httpMessage` on a socket that is writing a response (its own clientError checks it). */
function answering(socket: Duplex): boolean {
  const message = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  return message?.headersSent === true;
}

/**
 * `clientError` handler: a JSON answer where an answer can still be written, then the connection
 * is closed; the parser's error code goes to the log, nothing else about the request.
 */
export function answerClientErrors(
  server: Server,
  log: (fields: Record<string, unknown>) => void,
): void {
  server.on('clientError', (error: ParserError, socket: Duplex) => {
    if (error.code === 'ECONNRESET' || !socket.writable || answering(socket)) {
      socket.destroy();
      return;
    }
    const answer = parserErrorAnswer(error);
    const body = JSON.stringify({ error: answer.error, message: answer.message });
    const headers = [
      `HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status] ?? ''}`,
      'content-type: application/json; charset=utf-8',
      `content-length: ${Buffer.byteLength(body)}`,
      'cache-control: no-store',
      ...Object.entries(SECURITY_HEADERS).map(([name, value]) => `${name}: ${value}`),
      'connection: close',
    ];
    socket.end(`${headers.join('\r\n')}\r\n\r\n${body}`);
    log({ event: 'client_error', status: answer.status, error: error.code ?? 'unknown' });
  });
}
