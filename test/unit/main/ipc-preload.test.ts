import { beforeAll, describe, expect, it, vi } from 'vitest';
import type { RendererApi } from '../../../src/shared/api';
import { API_LAYOUT, IpcEvents } from '../../../src/shared/ipc/channels';

/**
 * The preload (ARCHITECTURE.md rule 2): named functions only, each over the channel API_LAYOUT gives it, and
 * progress listeners that get the payload without Electron's event object. Electron is replaced by
 * a recording double; the preload source is the real one.
 */

const fake = vi.hoisted(() => {
  const listeners = new Map<string, ((...args: unknown[]) => void)[]>();
  return {
    exposed: new Map<string, unknown>(),
    invoked: [] as [string, unknown][],
    listeners,
    electron: {
      contextBridge: {
        exposeInMainWorld: (key: string, value: unknown) => fake.exposed.set(key, value),
      },
      ipcRenderer: {
        invoke: (channel: string, payload: unknown) => {
          fake.invoked.push([channel, payload]);
          return Promise.resolve({ ok: true, value: { channel } });
        },
        on: (channel: string, listener: (...args: unknown[]) => void) => {
          listeners.set(channel, [...(listeners.get(channel) ?? []), listener]);
        },
        removeListener: (channel: string, listener: (...args: unknown[]) => void) => {
          listeners.set(
            channel,
            (listeners.get(channel) ?? []).filter((candidate) => candidate !== listener),
          );
        },
      },
    },
  };
});

vi.mock('electron', () => fake.electron);

let api: RendererApi;

beforeAll(async () => {
  await import('../../../src/preload/index');
  api = fake.exposed.get('api') as RendererApi;
});

describe('the preload', () => {
  it('exposes one object, window.api', () => {
    expect([...fake.exposed.keys()]).toEqual(['api']);
  });

  it('has exactly the functions API_LAYOUT names, plus platform and onProgress', () => {
    const shape = Object.fromEntries(
      Object.entries(api)
        .filter(([, value]) => typeof value === 'object')
        .map(([domain, functions]) => [domain, Object.keys(functions as object).sort()]),
    );
    const expected = Object.fromEntries(
      Object.entries(API_LAYOUT).map(([domain, functions]) => [
        domain,
        Object.keys(functions).sort(),
      ]),
    );
    expect(shape).toEqual(expected);
    expect(typeof api.platform).toBe('string');
    expect(typeof api.onProgress).toBe('function');
    expect(Object.keys(api)).not.toContain('invoke');
  });

  it('sends each function over its own channel, with {} when called without input', async () => {
    for (const [domain, functions] of Object.entries(API_LAYOUT)) {
      for (const [name, channel] of Object.entries(functions)) {
        fake.invoked.length = 0;
        const fn = (api as unknown as Record<string, Record<string, (input?: unknown) => unknown>>)[
          domain
        ]?.[name];
        expect(await fn?.()).toEqual({ ok: true, value: { channel } });
        expect(await fn?.({ a: 1 })).toEqual({ ok: true, value: { channel } });
        expect(fake.invoked).toEqual([
          [channel, {}],
          [channel, { a: 1 }],
        ]);
      }
    }
  });

  it('forwards progress payloads only, until the listener is removed', () => {
    const seen: unknown[] = [];
    const stop = api.onProgress((event) => seen.push(event));
    const [forward] = fake.listeners.get(IpcEvents.progress) ?? [];
    const payload = { channel: 'bundles:build', phase: 'zip', done: 1, total: 2 };
    forward?.({ sender: 'electron internals' }, payload);
    expect(seen).toEqual([payload]);
    stop();
    expect(fake.listeners.get(IpcEvents.progress)).toEqual([]);
  });
});
