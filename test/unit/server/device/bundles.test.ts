import { describe, expect, it } from 'vitest';
import { parseRange } from '../../../../src/server/device/bundles';

describe('#parseRange (RFC 9110 §14.1.2)', () => {
  it('reads a-b, a- and -n against the file size', () => {
    expect(parseRange('bytes=0-99', 1000)).toEqual({ start: 0, end: 99 });
    expect(parseRange('bytes=100-', 1000)).toEqual({ start: 100, end: 999 });
    expect(parseRange('bytes=-100', 1000)).toEqual({ start: 900, end: 999 });
    expect(parseRange('bytes=-5000', 1000)).toEqual({ start: 0, end: 999 });
    expect(parseRange('bytes=990-5000', 1000)).toEqual({ start: 990, end: 999 });
  });

  it('is unsatisfiable past the end (the plugin resumes with bytes=<size>-)', () => {
    expect(parseRange('bytes=1000-', 1000)).toBe('unsatisfiable');
    expect(parseRange('bytes=-0', 1000)).toBe('unsatisfiable');
  });

  it('means the whole file for anything else', () => {
    for (const header of [
      undefined,
      'bytes=',
      'bytes=-',
      'bytes=5-1',
      'bytes=0-1,5-6',
      'pages=1-2',
      'bytes=1e3-',
      `bytes=${'9'.repeat(40)}-`,
    ]) {
      expect(parseRange(header, 1000)).toBeNull();
    }
  });
});
