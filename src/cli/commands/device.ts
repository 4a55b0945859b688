import { writeFile } from 'node:fs/promises';
import { AirlockError } from '../../core/errors';
import { rootId, signRoot } from '../../core/statement';
import { selfSigned, verifyTrustBundle } from '../../core/log';
import type { SignedTrustRoot, TrustBundle } from '../../shared/schemas';
import { parseCommand, required, UsageError } from '../args';
import { printJson, printLine } from '../io';
import { connect, pinnedChain, publicClient, SERVER_OPTIONS } from './remote';

export const DEVICE_USAGE =
  'airlock device trust --server URL --app A --out trust.json [--sign] [--identity K] [--json]';

/**
 * The newest root signed by its own threshold (checklist B2), adding this machine's admin
 * signature when asked: version 1, which `server init` creates, carries no signatures yet.
 */
async function selfSignedNewest(
  newest: SignedTrustRoot,
  values: {
    sign?: boolean | undefined;
    server?: string | undefined;
    identity?: string | undefined;
  },
): Promise<SignedTrustRoot> {
  if (selfSigned(newest)) return newest;
  const { root } = newest;
  if (values.sign !== true) {
    throw new AirlockError(
      'POLICY_NOT_SATISFIED',
      `Trust root version ${root.version} carries fewer than ${root.rootThreshold} signatures of its own admins, so a phone could not check it. Run again with --sign as one of its admins (signatures of several admins: once each), or publish a new root version with "airlock members sign|submit".`,
    );
  }
  const { signer } = await connect(values, DEVICE_USAGE);
  const member = root.members.find((candidate) => candidate.keyId === signer.keyId);
  if (member === undefined || !member.roles.includes('admin')) {
    throw new AirlockError(
      'INVALID_ARGUMENT',
      `Key ${signer.keyId.slice(0, 16)}… is not an admin of trust root version ${root.version}.`,
    );
  }
  const signature = await signRoot(root, signer);
  const others = newest.signatures.filter((existing) => existing.keyId !== signature.keyId);
  const signed = { root, signatures: [...others, signature] };
  if (!selfSigned(signed)) {
    throw new AirlockError(
      'POLICY_NOT_SATISFIED',
      `Signed; trust root version ${root.version} still needs ${root.rootThreshold} admin signatures: pass this file's root to the other admins.`,
    );
  }
  return signed;
}

/**
 * `airlock device trust` (ARCHITECTURE.md §11): the trust bundle an app is built with, from the
 * server's root chain as this machine verified and pinned it. The file is checked with the phone's
 * own verifier before it is written.
 */
async function trust(argv: string[]): Promise<void> {
  const usage = DEVICE_USAGE;
  const { values } = parseCommand(
    argv,
    {
      ...SERVER_OPTIONS,
      app: { type: 'string' },
      out: { type: 'string' },
      sign: { type: 'boolean' },
    },
    { min: 0, max: 0, usage },
  );
  const app = required(values.app, '--app', usage);
  const out = required(values.out, '--out', usage);
  const client = publicClient(values, usage);
  const { chain, firstRootId } = await pinnedChain(client.baseUrl);
  const known = await client.listApps();
  if (!known.some((candidate) => candidate.app === app)) {
    throw new AirlockError('NOT_FOUND', `The server has no app ${app}.`);
  }
  const roots = [...chain.roots];
  const newest = roots[roots.length - 1] as SignedTrustRoot;
  roots[roots.length - 1] = await selfSignedNewest(newest, values);
  const bundle: TrustBundle = {
    format: 'airlock-device-trust/v1',
    app,
    rootFingerprint: firstRootId,
    roots,
    serverKey: chain.server,
    createdAt: new Date().toISOString(),
  };
  const checked = verifyTrustBundle(bundle, app);
  if (!checked.ok) throw new AirlockError('SIGNATURE_INVALID', checked.message);
  await writeFile(out, `${JSON.stringify(bundle, null, 2)}\n`);
  const version = newest.root.version;
  if (values.json === true) {
    printJson({ ok: true, out, app, rootVersion: version, rootFingerprint: firstRootId });
    return;
  }
  printLine(
    `Wrote ${out}: ${app}, trust root version ${version}, server key ${chain.server.keyId}.`,
  );
  printLine(
    `Trust root fingerprint ${firstRootId} (root version 1, ${rootId(newest.root)} current):`,
  );
  printLine('compare it out of band before you build the app with this file.');
}

const COMMANDS: Record<string, (argv: string[]) => Promise<void>> = { trust };

export async function deviceCommand(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  const command = name === undefined ? undefined : COMMANDS[name];
  if (command === undefined) throw new UsageError(`usage:\n${DEVICE_USAGE}`);
  await command(rest);
}
