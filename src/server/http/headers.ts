/**
 * Headers on every answer of the server (ARCHITECTURE.md "Clean edges"), whatever route wrote it:
 *
 * - `x-content-type-options: nosniff`: a browser never reads an answer as another type than it
 *   says (a JSON error echoing input must not become HTML);
 * - `content-security-policy: default-src 'none'; base-uri 'none'; frame-ancestors 'none'`: if a
 *   browser does render an answer, it may load and run nothing, set no base URL, and no page may
 *   frame it (CSP Level 3; the server serves no HTML at all, so nothing legitimate is blocked).
 *
 * Under TLS the server adds `strict-transport-security` (RFC 6797) to every answer as well.
 */

export const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'x-content-type-options': 'nosniff',
  'content-security-policy': "default-src 'none'; base-uri 'none'; frame-ancestors 'none'",
});

/**
 * On the public reads (root chain, app list, log pages, bundles): any page may read them. The device
 * guard (ARCHITECTURE.md §11) runs in the app's WebView, whose origin is not the server's, and the Fetch
 * standard's CORS check would hide these answers from it otherwise. They are public and no
 * credentials are allowed, so nothing is exposed that a plain request could not already read;
 * signed admin routes send no such header.
 */
export const PUBLIC_READ_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'access-control-allow-origin': '*',
});

/** The same as a flat `[name, value, …]` list, for `writeHead` on the /updates path. */
export const SECURITY_HEADER_LIST: readonly string[] = Object.freeze(
  Object.entries(SECURITY_HEADERS).flat(),
);

/** RFC 6797 §6.1: two years, subdomains not included (the server knows only its own name). */
export const HSTS_VALUE = 'max-age=63072000';
