import { unnamed, type Person } from '../lib/people';
import { Fingerprint } from './Fingerprint';

/**
 * A person where a name goes (issue 13: names, not fingerprints): the name they were given; else
 * "Unnamed admin" (member, key) in words that say so, with the Fingerprint component beside it.
 * `compact` leaves the Copy button out, for table rows (the fingerprint stays).
 */
export function PersonName(props: { person: Person; compact?: boolean }): React.JSX.Element {
  const { person } = props;
  if (person.name !== null) return <span title={person.fingerprint}>{person.name}</span>;
  const label = unnamed(person.roles, person.roles.length > 0);
  return (
    <span className="person-unnamed">
      <em>{label}</em>{' '}
      {props.compact === true ? (
        <span className="fp">{person.fingerprint}</span>
      ) : (
        <Fingerprint fingerprint={person.fingerprint} copy={person.keyId} label={label} />
      )}
    </span>
  );
}
