import { describe, expect, it, vi } from 'vitest';
import { AirlockError } from '../../../src/core/errors';
import { invokeByName, invokeHandler, type HandlerTable } from '../../../src/main/ipc/handle';
import { ServerApiError } from '../../../src/main/server-client';
import { IPC_CHANNELS } from '../../../src/shared/ipc/channels';
import type { ProgressEvent } from '../../../src/shared/ipc/contract';

/**
 * Issue 5 / ARCHITECTURE.md rules 4 and 5: main parses every payload as unknown before a handler runs, and
 * answers `{ ok, value } | { ok: false, error: { code, message } }` without leaking internals.
 */

type Fake = Record<string, (input: unknown, ctx: unknown) => Promise<unknown>>;

/** A table whose handlers fail the test when called, except those given. */
function table(overrides: Fake = {}): HandlerTable {
  const handlers: Fake = {};
  for (const channel of IPC_CHANNELS) {
    handlers[channel] =
      overrides[channel] ?? (() => Promise.reject(new Error(`${channel} must not be called`)));
  }
  return handlers as unknown as HandlerTable;
}

const SERVER = { server: 'http://127.0.0.1:8787', app: 'com.example.app', channel: 'production' };

describe('#invokeHandler', () => {
  describe('when the payload does not match the request schema', () => {
    const badPayloads: [string, unknown][] = [
      ['undefined', undefined],
      ['null', null],
      ['a string', 'keys'],
      ['an array', [{ type: 'identity' }]],
      ['a missing field', {}],
      ['a wrong type', { type: 'identity', label: 7 }],
      ['an unknown value', { type: 'rsa' }],
      ['an unknown field', { type: 'identity', __proto__x: 1 }],
    ];
    it.each(badPayloads)(
      'refuses %s with INVALID_INPUT and never calls the handler',
      async (_, payload) => {
        const create = vi.fn(() => Promise.resolve({}));
        const result = await invokeHandler(
          table({ 'keys:create': create }),
          'keys:create',
          payload,
        );
        expect(result.ok).toBe(false);
        if (!result.ok) {
          expect(result.error.code).toBe('INVALID_INPUT');
          expect(result.error.message).toMatch(/^The request to keys:create is invalid: .+\.$/);
        }
        expect(create).not.toHaveBeenCalled();
      },
    );

    it('names the field without echoing what was sent', async () => {
      const result = await invokeHandler(table(), 'keys:backup', {
        keyId: 'a'.repeat(64),
        passphrase: 'hunter2',
      });
      expect(result).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT' } });
      if (!result.ok) {
        expect(result.error.message).toContain('field "passphrase"');
        expect(result.error.message).not.toContain('hunter2');
      }
    });
  });

  describe('when the payload is valid', () => {
    it('hands the handler the parsed request, defaults applied', async () => {
      const list = vi.fn((input: unknown) => {
        expect(input).toEqual({ ...SERVER, offset: 0, limit: 100 });
        return Promise.resolve({
          total: 0,
          all: 0,
          proposers: [],
          rollbackNeedsOfficer: false,
          entries: [],
        });
      });
      const result = await invokeHandler(table({ 'history:list': list }), 'history:list', SERVER);
      expect(result).toEqual({
        ok: true,
        value: { total: 0, all: 0, proposers: [], rollbackNeedsOfficer: false, entries: [] },
      });
      expect(list).toHaveBeenCalledOnce();
    });

    it('drops fields the response schema does not declare', async () => {
      const result = await invokeHandler(
        table({
          'keys:export-public': () => Promise.resolve({ text: 'PEM', privateKey: 'secret' }),
        }),
        'keys:export-public',
        { keyId: 'abcdef12' },
      );
      expect(result).toEqual({ ok: true, value: { text: 'PEM' } });
    });
  });

  describe('when the handler fails', () => {
    it('maps an AirlockError to its code and sentence', async () => {
      const result = await invokeHandler(
        table({
          'keys:list': () =>
            Promise.reject(
              new AirlockError('KEYCHAIN_UNAVAILABLE', 'No OS keychain is reachable.'),
            ),
        }),
        'keys:list',
        {},
      );
      expect(result).toEqual({
        ok: false,
        error: { code: 'KEYCHAIN_UNAVAILABLE', message: 'No OS keychain is reachable.' },
      });
    });

    it("keeps a server's refusal code and sentence", async () => {
      const result = await invokeHandler(
        table({
          'releases:push': () =>
            Promise.reject(new ServerApiError(409, 'POLICY_NOT_SATISFIED', '1/2 approvals.')),
        }),
        'releases:push',
        { server: SERVER.server, statementId: 'b'.repeat(64) },
      );
      expect(result).toEqual({
        ok: false,
        error: { code: 'POLICY_NOT_SATISFIED', message: '1/2 approvals.' },
      });
    });

    it('turns anything else into INTERNAL with a fixed sentence, reported to main only', async () => {
      const onInternalError = vi.fn();
      const leaky = new Error('ENOENT /home/alice/.secret/key.pem at Object.openSync');
      const result = await invokeHandler(
        table({ 'audit:verify': () => Promise.reject(leaky) }),
        'audit:verify',
        {},
        { onInternalError },
      );
      expect(result).toEqual({
        ok: false,
        error: { code: 'INTERNAL', message: 'An unexpected internal error occurred.' },
      });
      expect(onInternalError).toHaveBeenCalledWith('audit:verify', leaky);
    });

    it('catches a handler that throws before returning a promise', async () => {
      const result = await invokeHandler(
        table({
          'outbox:retry': () => {
            throw new AirlockError('NOT_FOUND', 'No pending or failed outbox item 3.');
          },
        }),
        'outbox:retry',
        { id: 3 },
      );
      expect(result).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
    });

    it('answers INTERNAL when the handler returns something the schema refuses', async () => {
      const onInternalError = vi.fn();
      const result = await invokeHandler(
        table({ 'outbox:retry': () => Promise.resolve('not an object') }),
        'outbox:retry',
        { id: 1 },
        { onInternalError },
      );
      expect(result).toMatchObject({ ok: false, error: { code: 'INTERNAL' } });
      expect(onInternalError).toHaveBeenCalledOnce();
    });
  });

  describe('progress', () => {
    const build = { webDir: '/tmp/www', bundleKeyId: 'abcdef12', operationId: 'op-7' };

    it('tags events with the channel and operation id, throttled, the last one always sent', async () => {
      const events: ProgressEvent[] = [];
      const result = await invokeHandler(
        table({
          'bundles:build': (_input, ctx) => {
            const { progress } = ctx as {
              progress: (u: { phase: 'zip'; done: number; total: number; unit: 'files' }) => void;
            };
            for (let done = 1; done <= 1000; done += 1) {
              progress({ phase: 'zip', done, total: 1000, unit: 'files' });
            }
            return Promise.reject(new AirlockError('BUNDLE_NO_INDEX', 'No index.html.'));
          },
        }),
        'bundles:build',
        build,
        { progress: (event) => events.push(event), progressIntervalMs: 60_000 },
      );
      expect(result.ok).toBe(false);
      expect(events).toEqual([
        {
          channel: 'bundles:build',
          operationId: 'op-7',
          phase: 'zip',
          done: 1,
          total: 1000,
          unit: 'files',
          label: null,
        },
        {
          channel: 'bundles:build',
          operationId: 'op-7',
          phase: 'zip',
          done: 1000,
          total: 1000,
          unit: 'files',
          label: null,
        },
      ]);
    });

    it('stays silent once the call has answered, and survives a sink that throws', async () => {
      let late: (() => void) | undefined;
      const sink = vi.fn(() => {
        throw new Error('window closed');
      });
      const result = await invokeHandler(
        table({
          'sync:run': (_input, ctx) => {
            const { progress } = ctx as { progress: (u: object) => void };
            progress({ phase: 'verify', done: 1, total: 2, unit: 'entries' });
            late = () => progress({ phase: 'verify', done: 2, total: 2, unit: 'entries' });
            return Promise.resolve({ servers: [] });
          },
        }),
        'sync:run',
        {},
        { progress: sink },
      );
      expect(result).toEqual({ ok: true, value: { servers: [] } });
      late?.();
      expect(sink).toHaveBeenCalledOnce();
    });
  });
});

describe('#invokeByName', () => {
  it('refuses a channel that is not declared', async () => {
    expect(await invokeByName(table(), 'keys:delete', {})).toEqual({
      ok: false,
      error: { code: 'NOT_FOUND', message: 'There is no such IPC channel.' },
    });
    expect(await invokeByName(table(), '__proto__', {})).toMatchObject({ ok: false });
  });

  it('runs a declared one', async () => {
    const result = await invokeByName(
      table({ 'outbox:list': () => Promise.resolve({ items: [] }) }),
      'outbox:list',
      {},
    );
    expect(result).toEqual({ ok: true, value: { items: [] } });
  });
});
