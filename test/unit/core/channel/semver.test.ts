import { describe, expect, it } from 'vitest';
import {
  coerceSemver,
  compareSemver,
  parseSemver,
  type Semver,
} from '../../../../src/core/channel';

function v(text: string): Semver {
  const parsed = parseSemver(text);
  if (!parsed) throw new Error(`not semver: ${text}`);
  return parsed;
}

describe('#parseSemver', () => {
  it('parses release and pre-release versions', () => {
    expect(parseSemver('1.4.2')).toEqual({ major: 1, minor: 4, patch: 2, pre: [] });
    expect(parseSemver('1.0.0-beta.11')).toEqual({
      major: 1,
      minor: 0,
      patch: 0,
      pre: ['beta', 11],
    });
    expect(parseSemver('v2.0.0+build.5')).toEqual({ major: 2, minor: 0, patch: 0, pre: [] });
  });

  it('rejects what is not semver', () => {
    for (const text of [
      'builtin',
      '1.0',
      '01.0.0',
      '1.0.0-',
      '',
      '1.0.0-beta..1',
      'x'.repeat(300),
    ]) {
      expect(parseSemver(text)).toBeNull();
    }
  });
});

describe('#coerceSemver', () => {
  it('takes the first numbers like semver.coerce', () => {
    expect(coerceSemver('14')).toEqual({ major: 14, minor: 0, patch: 0, pre: [] });
    expect(coerceSemver('2.3 (build 7)')).toEqual({ major: 2, minor: 3, patch: 0, pre: [] });
    expect(coerceSemver('1.2.3.4')).toEqual({ major: 1, minor: 2, patch: 3, pre: [] });
    expect(coerceSemver('1.2.3-rc.1')).toEqual({ major: 1, minor: 2, patch: 3, pre: ['rc', 1] });
  });

  it('gives up on strings without a number', () => {
    expect(coerceSemver('builtin')).toBeNull();
    expect(coerceSemver('')).toBeNull();
  });
});

describe('#compareSemver', () => {
  it('orders by semver 2.0.0 §11 precedence', () => {
    const ordered = [
      '1.0.0-alpha',
      '1.0.0-alpha.1',
      '1.0.0-alpha.beta',
      '1.0.0-beta',
      '1.0.0-beta.2',
      '1.0.0-beta.11',
      '1.0.0-rc.1',
      '1.0.0',
      '1.0.1',
      '1.1.0',
      '2.0.0',
      '10.0.0',
    ];
    for (let i = 0; i + 1 < ordered.length; i++) {
      expect(compareSemver(v(ordered[i] as string), v(ordered[i + 1] as string))).toBeLessThan(0);
      expect(compareSemver(v(ordered[i + 1] as string), v(ordered[i] as string))).toBeGreaterThan(
        0,
      );
    }
  });

  it('ignores build metadata', () => {
    expect(compareSemver(v('1.0.0+a'), v('1.0.0+b'))).toBe(0);
  });
});
