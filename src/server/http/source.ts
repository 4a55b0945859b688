import { BlockList, isIP } from 'node:net';
import type { IncomingMessage } from 'node:http';

/**
 * Where a request comes from, for the limits that are kept per source (the automatic pause's cap
 * on devices per source, per-address rate limits; ARCHITECTURE.md "Unauthenticated input"):
 *
 * - the peer address of the connection, with IPv4-mapped IPv6 (`::ffff:1.2.3.4`) read as IPv4;
 * - an IPv6 address counts by its /64 prefix: one subscriber usually holds a whole /64, and
 *   counting single addresses would let one machine be a million sources;
 * - only when the peer is a proxy the operator named as trusted (`--trust-proxy`), the rightmost
 *   address of `X-Forwarded-For` that is not itself a trusted proxy (what nginx's
 *   `proxy_add_x_forwarded_for` appends). Anyone else's X-Forwarded-For is ignored: a client
 *   cannot pick its own source.
 */

/** At most this many X-Forwarded-For entries are read (the header is attacker-controlled). */
const MAX_FORWARDED = 32;

export type SourceOf = (req: IncomingMessage) => string;

/** `::ffff:1.2.3.4` → `1.2.3.4`; other addresses unchanged. */
function unmapped(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

/**
 * The source key of one address: IPv4 as is, IPv6 as its /64 (first four groups).
 * @example sourceKey('2001:db8:1:2:aaaa::1') // '2001:db8:1:2::/64'
 */
export function sourceKey(address: string): string {
  const plain = unmapped(address);
  if (isIP(plain) !== 6) return plain;
  const [head = '', tail = ''] = plain.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === '' ? [] : tail.split(':');
  const missing = 8 - left.length - right.length;
  const groups = plain.includes('::')
    ? [...left, ...Array<string>(missing).fill('0'), ...right]
    : left;
  return `${groups
    .slice(0, 4)
    .map((group) => group.replace(/^0+(?=.)/, '').toLowerCase())
    .join(':')}::/64`;
}

/**
 * Parses `--trust-proxy` entries: addresses or CIDR ranges (`10.0.0.0/8`, `fd00::/8`).
 * @throws RangeError naming an entry that is neither.
 */
export function trustedProxies(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const [address = '', bits] = entry.split('/');
    const family = isIP(address);
    if (family === 0) throw new RangeError(`${entry} is not an IP address or CIDR range.`);
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (bits === undefined) list.addAddress(address, type);
    else {
      const prefix = Number(bits);
      if (!/^\d{1,3}$/.test(bits) || prefix > (family === 4 ? 32 : 128)) {
        throw new RangeError(`${entry} has an invalid prefix length.`);
      }
      list.addSubnet(address, prefix, type);
    }
  }
  return list;
}

function isTrusted(list: BlockList, address: string): boolean {
  const plain = unmapped(address);
  const family = isIP(plain);
  return family !== 0 && list.check(plain, family === 4 ? 'ipv4' : 'ipv6');
}

/** The client address a trusted proxy reports, or null when it reports none that parses. */
function forwardedClient(list: BlockList, header: string | string[] | undefined): string | null {
  if (header === undefined) return null;
  const entries = (Array.isArray(header) ? header.join(',') : header).split(',');
  let client: string | null = null;
  for (let i = entries.length - 1; i >= 0 && entries.length - i <= MAX_FORWARDED; i--) {
    const entry = (entries[i] ?? '').trim();
    if (isIP(unmapped(entry)) === 0) break;
    client = entry;
    if (!isTrusted(list, entry)) break;
  }
  return client;
}

/**
 * The function that names a request's source (see the module comment).
 * @example const sourceOf = createSourceOf(trustedProxies(['127.0.0.1'])); sourceOf(req)
 */
export function createSourceOf(trusted: BlockList | null): SourceOf {
  return (req) => {
    const peer = req.socket.remoteAddress ?? 'unknown';
    if (trusted === null || !isTrusted(trusted, peer)) return sourceKey(peer);
    return sourceKey(forwardedClient(trusted, req.headers['x-forwarded-for']) ?? peer);
  };
}

/** True when `address` is one of the trusted proxies (exempt from per-address connection caps). */
export function isTrustedProxy(trusted: BlockList | null, address: string): boolean {
  return trusted !== null && isTrusted(trusted, address);
}
