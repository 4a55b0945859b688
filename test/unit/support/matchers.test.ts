import { describe, expect, it } from 'vitest';
import { AirlockError } from '../../../src/core/errors';

/** The matcher every refusal test relies on must itself fail when it should. */
describe('toThrowWithCode', () => {
  const refuse = (): never => {
    throw new AirlockError('KEY_INVALID', 'A public key is 64 hex characters.');
  };

  it('passes on the code (and the message when given)', async () => {
    expect(refuse).toThrowWithCode('KEY_INVALID');
    expect(refuse).toThrowWithCode('KEY_INVALID', /64 hex/);
    await expect(Promise.reject(new AirlockError('NOT_FOUND', 'gone'))).rejects.toThrowWithCode(
      'NOT_FOUND',
      'gone',
    );
  });

  it('fails on nothing thrown, another code, another message, or a promise given as a function', () => {
    expect(() => expect(() => 1).toThrowWithCode('KEY_INVALID')).toThrow(/nothing was thrown/);
    expect(() => expect(refuse).toThrowWithCode('NOT_FOUND')).toThrow(/expected code NOT_FOUND/);
    expect(() => expect(refuse).toThrowWithCode('KEY_INVALID', /hex digits/)).toThrow(/message/);
    expect(() => expect(() => Promise.resolve()).toThrowWithCode('X')).toThrow(/rejects/);
    expect(() => expect(refuse).not.toThrowWithCode('KEY_INVALID')).toThrow(/expected no error/);
  });
});
