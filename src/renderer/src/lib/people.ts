import { useMemo } from 'react';
import { groupFingerprint } from '../../../shared/fingerprint';
import { api, useQuery } from './api';

/** A key as people know it: the name and roles the trust roots give it, and its fingerprint. */
export interface Person {
  readonly keyId: string;
  readonly name: string | null;
  readonly fingerprint: string;
  readonly roles: readonly string[];
}

/**
 * The name a person gave, or null. `airlock server init` (and the console's server setup) names each
 * first admin "admin <fingerprint>" (src/server/init.ts): a placeholder, not a name, so it counts
 * as none, as does a fingerprint standing where a name would be. Never a fingerprint as a name.
 */
export function givenName(name: string | null | undefined, fingerprint: string): string | null {
  const trimmed = name?.trim() ?? '';
  if (trimmed === '' || trimmed === fingerprint || trimmed === `admin ${fingerprint}`) return null;
  return trimmed;
}

/** What an unnamed key is called: "Unnamed admin", "Unnamed member", "Unnamed key". */
export function unnamed(roles: readonly string[], member: boolean): string {
  return roles.includes('admin') ? 'Unnamed admin' : member ? 'Unnamed member' : 'Unnamed key';
}

/**
 * Names for key ids (issue 13: names resolved in approvals, history, audit and members), from the
 * trust roots this console pinned, else the label of the console's own key (the identity store);
 * a key nobody named has no name (`name: null`), only its grouped fingerprint.
 */
export function usePeople(): (keyId: string) => Person {
  const servers = useQuery('servers', () => api().servers.list());
  const keys = useQuery('keys', () => api().keys.list());
  return useMemo(() => {
    const known = new Map<string, Person>();
    for (const key of keys.data?.keys ?? []) {
      known.set(key.keyId, {
        keyId: key.keyId,
        name: key.label === '' ? null : key.label,
        fingerprint: key.fingerprint,
        roles: [],
      });
    }
    for (const server of servers.data?.servers ?? []) {
      for (const member of server.members) {
        const before = known.get(member.keyId);
        known.set(member.keyId, {
          keyId: member.keyId,
          name: givenName(member.name, member.fingerprint) ?? before?.name ?? null,
          fingerprint: member.fingerprint,
          roles: [...new Set([...(before?.roles ?? []), ...member.roles])],
        });
      }
    }
    return (keyId: string): Person =>
      known.get(keyId) ?? { keyId, name: null, fingerprint: groupFingerprint(keyId), roles: [] };
  }, [servers.data, keys.data]);
}

/**
 * A person in a sentence: the name, else "Unnamed admin" (or member, or key) with the grouped
 * fingerprint after it, so that it never reads as a name.
 */
export function nameOf(person: Person): string {
  return person.name ?? `${unnamed(person.roles, person.roles.length > 0)} ${person.fingerprint}`;
}
