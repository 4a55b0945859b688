/**
 * How people see a key id or trust-root id (ARCHITECTURE.md §2): its first 16 hex characters in
 * groups of four, `abcd 1234 ef56 7890`. The one grouping, used by core (which also checks the id)
 * and by the console window (which shows ids main already checked).
 * @example groupFingerprint('abcd1234ef567890…') // 'abcd 1234 ef56 7890'
 */
export function groupFingerprint(id: string): string {
  return id.slice(0, 16).replace(/(.{4})(?!$)/g, '$1 ');
}
