import { useId } from 'react';
import type { IpcResponse } from '../../../../shared/ipc/contract';
import type { Role } from '../../../../shared/schemas/trust-root';
import { CopyBox } from '../../components/CopyBox';
import { EmptyState, Loading } from '../../components/EmptyState';
import { ErrorBanner } from '../../components/ErrorBanner';
import { Fingerprint } from '../../components/Fingerprint';
import { api, useQuery } from '../../lib/api';
import { when } from '../../lib/format';
import { roleLabel } from '../../lib/roles';
import { policyLines } from './policy-text';
import { givenName, unnamed, usePeople } from '../../lib/people';

type ServerView = IpcResponse<'servers:list'>['servers'][number];

/** What each role may do (ARCHITECTURE.md §4), for the hint on changing members. */
const ROLE_DUTIES: Record<Role, string> = {
  admin: 'members, policies and the trust root',
  release_manager: 'propose, approve, push, rollout',
  signing_officer: 'approve; holds bundle keys',
  developer: 'build, upload, propose',
  auditor: 'read everything',
};

/** An identity key of this console, as far as this screen cares. */
interface OwnKey {
  readonly keyId: string;
  readonly label: string;
  readonly publicKey: string;
}

/** A value for a POSIX shell command line, quoted only when it needs to be. */
function shellWord(value: string): string {
  return /^[A-Za-z0-9_./:@-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * Who may do what on each connected server: the trust root this console pinned and verified
 * (ARCHITECTURE.md §4), its members with their roles, and its approval policies in words. Membership
 * changes are a new signed root version, made with the CLI; the screen shows the commands.
 */
export function MembersScreen(): React.JSX.Element {
  const servers = useQuery('servers', () => api().servers.list());
  const keys = useQuery('keys', () => api().keys.list());
  const mine: OwnKey[] = (keys.data?.keys ?? []).filter((key) => key.type === 'identity');
  const list = servers.data?.servers ?? [];

  return (
    <section aria-labelledby="members-title">
      <h1 id="members-title">Members and policies</h1>
      <ErrorBanner error={servers.error} />
      <ErrorBanner error={keys.error} />
      {servers.loading && servers.data === null && <Loading />}
      {servers.data !== null && list.length === 0 && (
        <EmptyState title="No server connected">
          Members and policies live in a server&apos;s trust root. Connect a server on the Servers
          screen and compare its fingerprint; its members and policies then show here.
        </EmptyState>
      )}
      {list.map((server) => (
        <ServerTrust key={server.url} server={server} mine={mine} />
      ))}
    </section>
  );
}

function ServerTrust(props: { server: ServerView; mine: readonly OwnKey[] }): React.JSX.Element {
  const { server, mine } = props;
  const titleId = useId();
  const mineIds = new Set(mine.map((key) => key.keyId));
  // The root's name for a member, else the label of this console's own key; never a placeholder.
  const person = usePeople();
  const nameOfMember = (member: ServerView['members'][number]): string | null =>
    givenName(member.name, member.fingerprint) ?? person(member.keyId).name;
  const outsiders = mine.filter(
    (key) => !server.members.some((member) => member.keyId === key.keyId),
  );
  const lines = policyLines(server.policies);
  const url = shellWord(server.url);
  const coSign = server.rootThreshold > 1;
  const out = coSign ? ' --out root.json' : '';

  return (
    <article className="card members-server" aria-labelledby={titleId}>
      <h2 id={titleId}>{server.url}</h2>
      <dl className="facts">
        <dt>Trust root</dt>
        <dd>
          Version {server.rootVersion}, valid until {when(server.rootExpiresAt)}
        </dd>
        <dt>Pinned fingerprint</dt>
        <dd>
          <Fingerprint fingerprint={server.fingerprint} label={`the trust root of ${server.url}`} />
        </dd>
        <dt>Changes need</dt>
        <dd>
          {server.rootThreshold} admin signature{server.rootThreshold === 1 ? '' : 's'}
        </dd>
      </dl>

      <h3>Members</h3>
      {server.members.length === 0 ? (
        <p className="muted">The trust root lists no members.</p>
      ) : (
        <table className="table" aria-label={`Members of ${server.url}`}>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Roles</th>
              <th scope="col">Key fingerprint</th>
            </tr>
          </thead>
          <tbody>
            {server.members.map((member) => (
              <tr key={member.keyId}>
                <td>
                  {nameOfMember(member) ?? <em>{unnamed(member.roles, true)}</em>}
                  {mineIds.has(member.keyId) && (
                    <>
                      {' '}
                      <span className="badge" title="An identity key in this computer's keychain">
                        you
                      </span>
                    </>
                  )}
                </td>
                <td>
                  {member.roles.map((role) => (
                    <span key={role} className="chip" title={role}>
                      {roleLabel(role)}
                    </span>
                  ))}
                </td>
                <td>
                  <Fingerprint
                    fingerprint={member.fingerprint}
                    copy={member.keyId}
                    label={nameOfMember(member) ?? unnamed(member.roles, true)}
                  />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {mine.length > 0 && outsiders.length === mine.length && (
        <p className="muted">
          None of your identity keys is a member here: you can propose and approve only once an
          admin adds one (command below).
        </p>
      )}

      <h3>Policies</h3>
      {lines.length === 0 ? (
        <p className="muted">The trust root has no policies: nothing can be approved here.</p>
      ) : (
        <>
          <ul className="policy-list" aria-label={`Policies of ${server.url}`}>
            {lines.map((line) => (
              <li key={line.key}>
                <strong>{line.scope}</strong>, {line.kinds}: {line.rule}
              </li>
            ))}
          </ul>
          <p className="muted">
            Where several patterns match, the most specific applies: an exact name before a prefix
            such as com.example.*, before *.
          </p>
        </>
      )}

      <h3>Changing members</h3>
      <p className="muted">
        Members and policies change only through a new trust-root version that admins sign, with the
        command line{coSign ? `; this root needs ${server.rootThreshold} admins to sign` : ''}.
      </p>
      <ul className="muted role-list" aria-label="Roles">
        {Object.entries(ROLE_DUTIES).map(([role, duties]) => (
          <li key={role}>
            <strong>{roleLabel(role)}</strong> (<span className="mono-inline">--role {role}</span>):{' '}
            {duties}
          </li>
        ))}
      </ul>
      {outsiders.map((key) => (
        <CopyBox
          key={key.keyId}
          label={`An admin adds your key ${key.label === '' ? '' : `"${key.label}" `}with`}
          text={`airlock members add --server ${url} --key ${key.publicKey} --name ${shellWord(
            key.label === '' ? 'Your name' : key.label,
          )} --role <role>${out}`}
        />
      ))}
      <CopyBox
        label="Add a member (an admin runs)"
        text={`airlock members add --server ${url} --key <public-key hex> --name <name> --role <role>${out}`}
      />
      <CopyBox
        label="Remove a member (an admin runs)"
        text={`airlock members remove --server ${url} --key <key fingerprint>${out}`}
      />
      {coSign && (
        <CopyBox
          label="Then each other admin signs, and one submits"
          text={`airlock members sign root.json --server ${url}\nairlock members submit root.json --server ${url}`}
        />
      )}
    </article>
  );
}
