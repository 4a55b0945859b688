import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, testIdentity, type TestServer } from '../../helpers/server';

/**
 * Slow and greedy clients (ARCHITECTURE.md "Slow and greedy clients"): `airlock server start`
 * under a descriptor limit of 1024 (prlimit), against 1,100 sockets that each send a /updates
 * body one byte every 5 seconds. Before: no answer for as long as it was measured. Now the caps
 * close what does not fit at once, the per-address cap leaves room for other hosts, and the body
 * deadline (10 s) frees the rest: the server answers again within 20 s.
 */

const admin = testIdentity('slow clients admin'); // TEST-ONLY
const DRIBBLERS = 1100;
let server: TestServer;
const sockets: Socket[] = [];
const logLines: string[] = [];

beforeAll(async () => {
  server = await startTestServer({
    admins: [admin],
    spawn: true,
    wrap: ['prlimit', '--nofile=1024:1024', '--'],
    logger: (line) => logLines.push(line),
  });
});

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await server.dispose();
});

/** A socket from `localAddress` that sends a /updates request and then its body a byte at a time. */
function dribbler(port: number, localAddress: string): Socket {
  const socket = connect({ port, host: '127.0.0.1', localAddress }, () => {
    socket.write(
      'POST /updates HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
        'Content-Length: 16000\r\n\r\n{',
    );
  });
  const timer = setInterval(() => {
    if (socket.writable) socket.write(' ');
  }, 5000);
  socket.on('close', () => clearInterval(timer));
  socket.on('error', () => clearInterval(timer));
  return socket;
}

/** Seconds until a fresh /updates from `localAddress` gets an answer (polls every 250 ms). */
async function secondsUntilAnswered(localAddress: string, limitMs: number): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < limitMs) {
    const answered = await new Promise<boolean>((resolve) => {
      const socket = connect(
        { port: Number(new URL(server.url).port), host: '127.0.0.1', localAddress },
        () => {
          socket.end(
            'POST /updates HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}',
          );
        },
      );
      let text = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => (text += chunk));
      socket.on('close', () => resolve(text.startsWith('HTTP/1.1 4')));
      socket.on('error', () => resolve(false));
      setTimeout(() => socket.destroy(), 2000).unref();
    });
    if (answered) return (Date.now() - started) / 1000;
    await sleep(250);
  }
  return Number.POSITIVE_INFINITY;
}

describe('1,100 dribbling sockets under a descriptor limit of 1024', () => {
  it('keeps answering other hosts, and answers everyone again within 20 s', async () => {
    const port = Number(new URL(server.url).port);
    for (let i = 0; i < DRIBBLERS; i++) {
      // Eight attacking hosts: more than the per-address cap from each, more than the total cap in all.
      sockets.push(dribbler(port, `127.0.1.${1 + (i % 8)}`));
      if (i % 100 === 99) await sleep(20);
    }
    await sleep(1500);
    const open = sockets.filter((socket) => !socket.destroyed).length;
    // The caps closed what did not fit: far fewer than 1,100 are still held open.
    expect(open).toBeLessThan(DRIBBLERS);
    const fromElsewhere = await secondsUntilAnswered('127.0.2.1', 20_000);
    expect(fromElsewhere).toBeLessThan(20);
    const fromAnAttacker = await secondsUntilAnswered('127.0.1.1', 20_000);
    expect(fromAnAttacker).toBeLessThan(20);
    // Refused connections are counted in the log, once a second, not a line each.
    const refusals = logLines.filter((line) => line.includes('"connections_refused"'));
    expect(refusals.length).toBeGreaterThan(0);
    expect(refusals.length).toBeLessThan(60);
  }, 90_000);
});
