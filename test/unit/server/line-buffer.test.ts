import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { createLineBuffer } from '../../../src/server/line-buffer';

describe('createLineBuffer', () => {
  it('writes the lines of one event-loop turn together, in order, when the turn ends', async () => {
    const writes: string[] = [];
    const log = createLineBuffer((chunk) => writes.push(chunk));
    log.line('{"n":1}');
    log.line('{"n":2}');
    log.line('{"n":3}');
    expect(writes).toEqual([]);
    await nextTurn();
    expect(writes).toEqual(['{"n":1}\n{"n":2}\n{"n":3}\n']);
    log.line('{"n":4}');
    await nextTurn();
    expect(writes).toEqual(['{"n":1}\n{"n":2}\n{"n":3}\n', '{"n":4}\n']);
  });

  it('writes at once when maxBytes have gathered, and loses nothing after', async () => {
    const writes: string[] = [];
    const log = createLineBuffer((chunk) => writes.push(chunk), 10);
    log.line('12345');
    expect(writes).toEqual([]);
    log.line('67890');
    expect(writes).toEqual(['12345\n67890\n']);
    log.line('abc');
    await nextTurn();
    await nextTurn();
    expect(writes.join('')).toBe('12345\n67890\nabc\n');
  });

  it('flush() writes what has gathered, and nothing when nothing has', () => {
    const writes: string[] = [];
    const log = createLineBuffer((chunk) => writes.push(chunk));
    log.flush();
    expect(writes).toEqual([]);
    log.line('last');
    log.flush();
    expect(writes).toEqual(['last\n']);
  });
});
