import { describe, expect, it } from 'vitest';
import { toCsv } from '../../../src/shared/csv';

describe('toCsv (RFC 4180)', () => {
  it('writes a header and records with CRLF, quoting only what needs it', () => {
    expect(toCsv(['a', 'b'], [['1', 'x y']])).toBe('a,b\r\n1,x y\r\n');
    expect(toCsv(['a'], [['he said "no", twice'], ['two\nlines']])).toBe(
      'a\r\n"he said ""no"", twice"\r\n"two\nlines"\r\n',
    );
  });

  it('neutralises cells a spreadsheet would run as a formula', () => {
    for (const attack of ['=HYPERLINK("http://x")', '+1+1', '-2+3', '@SUM(A1)', '\tx']) {
      const cell = toCsv(['a'], [[attack]]).split('\r\n')[1] ?? '';
      expect(cell.replace(/^"/, '').startsWith("'")).toBe(true);
    }
    expect(toCsv(['a'], [['release 1.0.0']])).toBe('a\r\nrelease 1.0.0\r\n');
  });
});
