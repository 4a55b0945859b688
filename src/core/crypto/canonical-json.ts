import { AirlockError } from '../errors';

/**
 * JSON Canonicalization Scheme, RFC 8785 (JCS). The canonical text of a value is what Airlock signs,
 * so this refuses anything outside the I-JSON data model instead of guessing (RFC 8785 §3.1):
 * undefined, functions, symbols, bigint, NaN/±Infinity, lone surrogates, cycles, and objects that are
 * not plain (Date, Map, class instances, boxed primitives…).
 */

/** Deeper than any document Airlock signs; bounds recursion on attacker-controlled input. */
const MAX_DEPTH = 64;

// With the `u` flag a well-formed surrogate pair is one astral code point, so only a lone
// surrogate matches \p{Surrogate}.
const LONE_SURROGATE = /\p{Surrogate}/u;

function unsupported(path: string, what: string): AirlockError<'CANONICAL_JSON_UNSUPPORTED'> {
  return new AirlockError(
    'CANONICAL_JSON_UNSUPPORTED',
    `Canonical JSON cannot encode ${what} at ${path}.`,
  );
}

function serializeNumber(value: number, path: string): string {
  // RFC 8785 §3.2.2.3: numbers are IEEE 754 doubles serialized as ECMAScript Number::toString;
  // NaN and Infinity are not JSON and must be rejected.
  if (!Number.isFinite(value)) throw unsupported(path, String(value));
  // JSON.stringify implements Number::toString and already prints -0 as 0 (RFC 8785 Appendix B).
  return JSON.stringify(value);
}

function serializeString(value: string, path: string): string {
  // RFC 8785 §3.2.2.2: strings must be valid Unicode; a lone surrogate has no UTF-8 form.
  if (LONE_SURROGATE.test(value)) throw unsupported(path, 'a string with a lone surrogate');
  // JSON.stringify escapes exactly as §3.2.2.2 requires: \b \t \n \f \r \" \\ and \u00xx (lowercase)
  // for the other controls; everything else, including '/', as is.
  return JSON.stringify(value);
}

function isPlainObject(value: object): value is Record<string, unknown> {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function serialize(value: unknown, path: string, ancestors: Set<object>): string {
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      return serializeNumber(value, path);
    case 'string':
      return serializeString(value, path);
    case 'object':
      if (value === null) return 'null';
      return serializeContainer(value, path, ancestors);
    default:
      // undefined, function, symbol, bigint
      throw unsupported(path, typeof value === 'undefined' ? 'undefined' : `a ${typeof value}`);
  }
}

function serializeContainer(value: object, path: string, ancestors: Set<object>): string {
  if (ancestors.has(value)) throw unsupported(path, 'a cyclic reference');
  if (ancestors.size >= MAX_DEPTH) throw unsupported(path, `nesting deeper than ${MAX_DEPTH}`);
  ancestors.add(value);
  try {
    if (Array.isArray(value)) return serializeArray(value, path, ancestors);
    if (!isPlainObject(value)) {
      throw unsupported(path, `a ${value.constructor?.name ?? 'non-plain'} object`);
    }
    return serializeObject(value, path, ancestors);
  } finally {
    ancestors.delete(value);
  }
}

function serializeArray(array: readonly unknown[], path: string, ancestors: Set<object>): string {
  if (Object.getPrototypeOf(array) !== Array.prototype)
    throw unsupported(path, 'an Array subclass');
  const parts: string[] = [];
  // Index loop, not map(): holes in a sparse array read as undefined and are refused.
  for (let index = 0; index < array.length; index += 1) {
    parts.push(serialize(array[index], `${path}[${index}]`, ancestors));
  }
  return `[${parts.join(',')}]`;
}

function serializeObject(
  object: Record<string, unknown>,
  path: string,
  ancestors: Set<object>,
): string {
  if (Object.getOwnPropertySymbols(object).length > 0) throw unsupported(path, 'a symbol key');
  // RFC 8785 §3.2.3: sort property names by their UTF-16 code units. Array.prototype.sort without a
  // comparator compares strings exactly that way. Names are strings, so the same escaping applies.
  const keys = Object.keys(object).sort();
  const members = keys.map((key) => {
    const childPath = `${path}.${key}`;
    return `${serializeString(key, childPath)}:${serialize(object[key], childPath, ancestors)}`;
  });
  return `{${members.join(',')}}`;
}

/**
 * The RFC 8785 canonical JSON text of `value`. Throws AirlockError CANONICAL_JSON_UNSUPPORTED for
 * anything outside the JSON data model (see the module comment).
 * @example canonicalize({ b: 1, a: [true, null] }) // '{"a":[true,null],"b":1}'
 */
export function canonicalize(value: unknown): string {
  return serialize(value, '$', new Set());
}

/**
 * The UTF-8 bytes of `canonicalize(value)` (RFC 8785 §3.2.4).
 * @example canonicalBytes({ a: '€' }) // Uint8Array of '{"a":"€"}' in UTF-8
 */
export function canonicalBytes(value: unknown): Uint8Array {
  return new TextEncoder().encode(canonicalize(value));
}
