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
 * Names for key ids (issue 13: names resolved in approvals, history, audit and members), from the
 * trust roots this console pinned; a key no root names is its grouped fingerprint only. The
 * console's own keys are named by their label when no root names them.
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
          name: member.name,
          fingerprint: member.fingerprint,
          roles: [...new Set([...(before?.roles ?? []), ...member.roles])],
        });
      }
    }
    return (keyId: string): Person =>
      known.get(keyId) ?? { keyId, name: null, fingerprint: groupFingerprint(keyId), roles: [] };
  }, [servers.data, keys.data]);
}

/** A person in a sentence: the name, else the grouped fingerprint. */
export function nameOf(person: Person): string {
  return person.name ?? person.fingerprint;
}
