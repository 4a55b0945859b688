import { describe, expect, it } from 'vitest';
import { API_LAYOUT, IPC_CHANNELS, IpcChannels, IpcEvents } from '../../../src/shared/ipc/channels';
import { contract, KeyViewSchema, ProgressEventSchema } from '../../../src/shared/ipc/contract';

/**
 * Issue 5: every IPC channel is declared once in src/shared/ipc, with a strict request schema and a
 * response schema that lets nothing undeclared through.
 */

const KEY_ID = 'a'.repeat(64);

describe('channels.ts', () => {
  it('names every channel domain:verb-noun, once', () => {
    for (const channel of IPC_CHANNELS) expect(channel).toMatch(/^[a-z]+:[a-z]+(?:-[a-z]+)*$/);
    expect(new Set(IPC_CHANNELS).size).toBe(IPC_CHANNELS.length);
    expect(IPC_CHANNELS).toEqual(Object.values(IpcChannels));
  });

  it('keeps events apart from request channels', () => {
    for (const event of Object.values(IpcEvents)) {
      expect(IPC_CHANNELS as readonly string[]).not.toContain(event);
    }
  });

  it('lays out window.api over every channel exactly once', () => {
    const used = Object.values(API_LAYOUT).flatMap((functions) => Object.values(functions));
    expect([...used].sort()).toEqual([...IPC_CHANNELS].sort());
  });
});

describe('contract.ts', () => {
  it('has a request and a response schema for every channel and nothing else', () => {
    expect(Object.keys(contract).sort()).toEqual([...IPC_CHANNELS].sort());
    for (const channel of IPC_CHANNELS) {
      expect(typeof contract[channel].request.safeParse).toBe('function');
      expect(typeof contract[channel].response.safeParse).toBe('function');
    }
  });

  it('refuses a request that is not an object on every channel', () => {
    for (const channel of IPC_CHANNELS) {
      for (const payload of [undefined, null, 'text', 42, []]) {
        expect(contract[channel].request.safeParse(payload).success, `${channel}`).toBe(false);
      }
    }
  });

  it('refuses unknown fields in requests', () => {
    expect(contract['keys:list'].request.safeParse({ extra: 1 }).success).toBe(false);
    expect(
      contract['keys:create'].request.safeParse({ type: 'identity', privateKey: 'x' }).success,
    ).toBe(false);
    expect(
      contract['approvals:approve'].request.safeParse({
        mode: 'online',
        server: 'http://127.0.0.1:1',
        statementId: KEY_ID,
        extra: true,
      }).success,
    ).toBe(false);
  });

  it('applies defaults so handlers see complete requests', () => {
    const history = contract['history:list'].request.parse({
      server: 'http://127.0.0.1:8787',
      app: 'com.example.app',
      channel: 'production',
    });
    expect(history).toMatchObject({ offset: 0, limit: 100 });
    const propose = contract['releases:propose'].request.parse({
      server: 'http://127.0.0.1:8787',
      app: 'com.example.app',
      channel: 'production',
      version: '1.0.0',
      bundle: KEY_ID,
    });
    expect(propose).toMatchObject({
      rolloutPercent: 100,
      minNativeVersion: '0.0.0',
      expiresInHours: 168,
      exportRequest: false,
    });
  });

  it('checks the fields the domain checks (app ids, versions, percents, passphrases)', () => {
    const base = {
      server: 'http://127.0.0.1:8787',
      app: 'com.example.app',
      channel: 'production',
    };
    const rollout = contract['rollout:change'].request;
    expect(rollout.safeParse({ ...base, change: { kind: 'percent', percent: 50 } }).success).toBe(
      true,
    );
    expect(rollout.safeParse({ ...base, change: { kind: 'percent', percent: 0 } }).success).toBe(
      false,
    );
    expect(rollout.safeParse({ ...base, change: { kind: 'percent', percent: 101 } }).success).toBe(
      false,
    );
    expect(rollout.safeParse({ ...base, change: { kind: 'stop' } }).success).toBe(false);
    expect(
      rollout.safeParse({ ...base, app: 'not an app', change: { kind: 'pause' } }).success,
    ).toBe(false);
    expect(
      contract['releases:propose'].request.safeParse({ ...base, version: 'v1', bundle: KEY_ID })
        .success,
    ).toBe(false);
    expect(
      contract['keys:backup'].request.safeParse({ keyId: KEY_ID, passphrase: 'short' }).success,
    ).toBe(false);
    expect(
      contract['keys:export-public'].request.safeParse({ keyId: 'xyz', format: 'pem' }).success,
    ).toBe(false);
    expect(contract['outbox:retry'].request.safeParse({ id: 1.5 }).success).toBe(false);
    expect(contract['history:list'].request.safeParse({ ...base, limit: 10_000 }).success).toBe(
      false,
    );
  });

  it('drops undeclared fields from responses, so internals cannot leak', () => {
    const key = KeyViewSchema.parse({
      keyId: KEY_ID,
      type: 'identity',
      label: 'alice',
      fingerprint: 'aaaa aaaa aaaa aaaa',
      createdAt: '2026-01-01T00:00:00.000Z',
      publicKey: 'b'.repeat(64),
      privateKey: 'c'.repeat(64),
    });
    expect(key).not.toHaveProperty('privateKey');
    const listed = contract['keys:list'].response.parse({
      keys: [{ ...key, secret: 'x' }],
      debug: { stack: 'at main.js' },
    });
    expect(JSON.stringify(listed)).not.toMatch(/secret|stack|privateKey/);
  });

  it('describes progress events', () => {
    expect(
      ProgressEventSchema.safeParse({
        channel: 'bundles:build',
        operationId: 'op-1',
        phase: 'encrypt',
        done: 10,
        total: 20,
        unit: 'bytes',
        label: null,
      }).success,
    ).toBe(true);
  });
});
