import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { canonicalBytes, canonicalize } from '../../../../src/core/crypto/canonical-json';
import { bytesToHex } from '../../../../src/core/crypto/encoding';

interface JcsVectors {
  sample: { input: string; expected: string; expectedUtf8Hex: string };
  sorting: { input: string; expected: string; expectedValueOrder: string[] };
  numbers: { ieee754: string; expected: string | null; comment?: string }[];
}

// Known-answer vectors typed in from RFC 8785 (see the fixture's description).
const vectors = JSON.parse(
  readFileSync(new URL('../../../fixtures/vectors/canonical-json.json', import.meta.url), 'utf8'),
) as JcsVectors;

/** The IEEE 754 double whose big-endian bit pattern is `hex`. */
function doubleFromBits(hex: string): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setBigUint64(0, BigInt(`0x${hex}`));
  return view.getFloat64(0);
}

describe('#canonicalize', () => {
  describe('when given the RFC 8785 §3.2.2 sample', () => {
    it('produces the published canonical text', () => {
      expect(canonicalize(JSON.parse(vectors.sample.input))).toBe(vectors.sample.expected);
    });

    it('produces the published UTF-8 bytes (§3.2.4)', () => {
      const bytes = canonicalBytes(JSON.parse(vectors.sample.input));
      expect(bytesToHex(bytes)).toBe(vectors.sample.expectedUtf8Hex);
    });
  });

  describe('when given the RFC 8785 §3.2.3 sorting sample', () => {
    it('sorts property names by UTF-16 code units', () => {
      expect(canonicalize(JSON.parse(vectors.sorting.input))).toBe(vectors.sorting.expected);
    });

    it('puts the values in the published order', () => {
      // Read the order from the text: a JS object would list the integer-like key "1" first.
      const text = canonicalize(JSON.parse(vectors.sorting.input));
      const positions = vectors.sorting.expectedValueOrder.map((value) =>
        text.indexOf(`"${value}"`),
      );
      expect(positions.every((position) => position > 0)).toBe(true);
      expect(positions).toEqual([...positions].sort((a, b) => a - b));
    });
  });

  describe('when given the RFC 8785 Appendix B numbers', () => {
    const finite = vectors.numbers.filter((vector) => vector.expected !== null);
    const rejected = vectors.numbers.filter((vector) => vector.expected === null);

    it('covers the whole table', () => {
      expect(finite).toHaveLength(24);
      expect(rejected).toHaveLength(2);
    });

    it.each(finite)('serializes $ieee754 as $expected', ({ ieee754, expected }) => {
      expect(canonicalize(doubleFromBits(ieee754))).toBe(expected);
    });

    it.each(rejected)('rejects $ieee754 ($comment)', ({ ieee754 }) => {
      expect(() => canonicalize(doubleFromBits(ieee754))).toThrowWithCode(
        'CANONICAL_JSON_UNSUPPORTED',
      );
    });
  });

  it('writes no whitespace and sorts nested objects too', () => {
    expect(canonicalize({ b: [1, { d: null, c: 'x' }], a: true })).toBe(
      '{"a":true,"b":[1,{"c":"x","d":null}]}',
    );
  });

  it('writes -0 as 0', () => {
    expect(canonicalize([-0])).toBe('[0]');
  });

  it('escapes control characters as ES JSON.stringify does, and leaves / and non-ASCII alone', () => {
    expect(canonicalize('\b\t\n\f\r\u0001\u001f"\\/é\u2028')).toBe(
      '"\\b\\t\\n\\f\\r\\u0001\\u001f\\"\\\\/é\u2028"',
    );
  });

  it('accepts a well-formed surrogate pair', () => {
    expect(canonicalize('\ud83d\ude00')).toBe('"😀"');
  });

  it('accepts objects without a prototype', () => {
    const object = Object.create(null) as Record<string, unknown>;
    object.b = 1;
    object.a = 2;
    expect(canonicalize(object)).toBe('{"a":2,"b":1}');
  });

  it('encodes a value shared by two branches (not a cycle) twice', () => {
    const shared = { x: 1 };
    expect(canonicalize({ a: shared, b: shared })).toBe('{"a":{"x":1},"b":{"x":1}}');
  });

  describe('when the value is outside the JSON data model', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    class Point {
      x = 1;
    }
    let deep: unknown = 'leaf';
    for (let level = 0; level < 100; level += 1) deep = [deep];
    const holey: unknown[] = [];
    holey[2] = 3; // indexes 0 and 1 are holes

    it.each([
      ['NaN', Number.NaN],
      ['Infinity', Number.POSITIVE_INFINITY],
      ['-Infinity', Number.NEGATIVE_INFINITY],
      ['undefined', undefined],
      ['an undefined property', { a: undefined }],
      ['a hole in an array', holey],
      ['a function', { f: () => 1 }],
      ['a symbol', Symbol('s')],
      ['a symbol key', { [Symbol('s')]: 1 }],
      ['a bigint', 1n],
      ['a Date', new Date(0)],
      ['a Map', new Map()],
      ['a class instance', new Point()],
      ['a boxed number', Object(1) as unknown],
      ['a Uint8Array', new Uint8Array(1)],
      ['a lone high surrogate', '\ud83d'],
      ['a lone low surrogate in a key', { '\ude00': 1 }],
      ['a reversed surrogate pair', '\ude00\ud83d'],
      ['a cycle', cyclic],
      ['nesting deeper than 64 levels', deep],
    ])('throws CANONICAL_JSON_UNSUPPORTED for %s', (_label, value) => {
      expect(() => canonicalize(value)).toThrowWithCode('CANONICAL_JSON_UNSUPPORTED');
    });

    it('names where the problem is', () => {
      expect(() => canonicalize({ release: { notes: undefined } })).toThrow('$.release.notes');
    });
  });
});

describe('#canonicalBytes', () => {
  it('is the UTF-8 encoding of the canonical text', () => {
    expect(bytesToHex(canonicalBytes({ b: '€', a: 1 }))).toBe(
      bytesToHex(new TextEncoder().encode('{"a":1,"b":"€"}')),
    );
  });
});
