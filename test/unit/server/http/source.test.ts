import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { createSourceOf, sourceKey, trustedProxies } from '../../../../src/server/http/source';

/** The parts of a request sourceOf reads. */
function from(remoteAddress: string, forwarded?: string): IncomingMessage {
  return {
    socket: { remoteAddress },
    headers: forwarded === undefined ? {} : { 'x-forwarded-for': forwarded },
  } as unknown as IncomingMessage;
}

describe('sourceKey', () => {
  it('keeps IPv4, reads IPv4-mapped IPv6 as IPv4, and counts IPv6 by its /64', () => {
    expect(sourceKey('203.0.113.7')).toBe('203.0.113.7');
    expect(sourceKey('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(sourceKey('2001:db8:1:2:aaaa:bbbb:cccc:dddd')).toBe('2001:db8:1:2::/64');
    expect(sourceKey('2001:db8:1:2::1')).toBe('2001:db8:1:2::/64');
    expect(sourceKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(sourceKey('2001:0db8:0001:0002::9')).toBe(sourceKey('2001:db8:1:2::1'));
  });
});

describe('createSourceOf', () => {
  it('ignores X-Forwarded-For from a peer that is not a trusted proxy', () => {
    const sourceOf = createSourceOf(trustedProxies(['127.0.0.1']));
    expect(sourceOf(from('198.51.100.9', '203.0.113.1'))).toBe('198.51.100.9');
    expect(createSourceOf(null)(from('127.0.0.1', '203.0.113.1'))).toBe('127.0.0.1');
  });

  it('takes the rightmost address a trusted proxy did not add', () => {
    const sourceOf = createSourceOf(trustedProxies(['127.0.0.1', '10.0.0.0/8']));
    // The client claims 1.1.1.1; nginx appended its real address 203.0.113.5.
    expect(sourceOf(from('127.0.0.1', '1.1.1.1, 203.0.113.5'))).toBe('203.0.113.5');
    expect(sourceOf(from('127.0.0.1', '203.0.113.5, 10.1.2.3'))).toBe('203.0.113.5');
    expect(sourceOf(from('::ffff:127.0.0.1', '2001:db8:5:6::7'))).toBe('2001:db8:5:6::/64');
  });

  it('falls back to the peer when the header says nothing usable', () => {
    const sourceOf = createSourceOf(trustedProxies(['127.0.0.1']));
    expect(sourceOf(from('127.0.0.1'))).toBe('127.0.0.1');
    expect(sourceOf(from('127.0.0.1', 'not an address'))).toBe('127.0.0.1');
  });

  it('refuses a trusted proxy that is not an address or range', () => {
    expect(() => trustedProxies(['nginx'])).toThrow(RangeError);
    expect(() => trustedProxies(['10.0.0.0/33'])).toThrow(RangeError);
  });
});
