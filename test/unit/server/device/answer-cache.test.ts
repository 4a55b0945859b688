import { describe, expect, it } from 'vitest';
import {
  AnswerMemo,
  MAX_MEMO_BODY,
  type MemoEntry,
} from '../../../../src/server/device/answer-cache';
import { NO_UPDATE } from '../../../../src/server/device/decide';

const ENTRY: MemoEntry = {
  deviceId: 'device',
  generation: 1,
  decision: NO_UPDATE.noRelease,
};

describe('AnswerMemo', () => {
  it('keeps at most maxEntries, dropping the oldest', () => {
    const memo = new AnswerMemo(2);
    memo.set('a', ENTRY);
    memo.set('b', ENTRY);
    memo.set('c', ENTRY);
    expect(memo.size).toBe(2);
    expect(memo.get('a')).toBeUndefined();
    expect(memo.get('c')).toBe(ENTRY);
  });

  it('never keeps long bodies, and keeps nothing when off', () => {
    const memo = new AnswerMemo(10);
    memo.set('x'.repeat(MAX_MEMO_BODY + 1), ENTRY);
    expect(memo.size).toBe(0);
    const off = new AnswerMemo(0);
    off.set('a', ENTRY);
    expect(off.size).toBe(0);
  });
});
