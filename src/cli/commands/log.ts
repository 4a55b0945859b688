import { AirlockError } from '../../core/errors';
import {
  compareCheckpoints,
  verifyCheckpoint,
  verifyLogEntries,
  type LogHead,
} from '../../core/log';
import type { ServerClient } from '../../main/server-client';
import type { SignedCheckpoint, SignedTrustRoot } from '../../shared/schemas';
import { parseCommand, required, UsageError } from '../args';
import { printJson, printLine, progressReporter } from '../io';
import { pinnedChain, publicClient, SERVER_OPTIONS } from './remote';

export const LOG_USAGE = 'airlock log verify --server URL --app A [--channel C] [--json]';

const PAGE_SIZE = 1000;

interface ChannelReport {
  readonly channel: string;
  readonly statements: number;
  readonly head: LogHead | null;
}

class LogProblem extends AirlockError {
  constructor(
    readonly channel: string,
    readonly seq: number,
    readonly problem: string,
    detail: string,
  ) {
    super(
      'SIGNATURE_INVALID',
      `The log of ${channel} does not verify at seq ${seq} (${problem}): ${detail}.`,
    );
  }
}

interface VerifyContext {
  readonly client: ServerClient;
  readonly app: string;
  readonly roots: readonly SignedTrustRoot[];
  readonly serverKey: Uint8Array;
}

/**
 * The newest checkpoint must be the one of the last entry: a log that ends before its own signed
 * head means the server withheld entries; a different head for the same seq is a fork (ARCHITECTURE.md §3).
 */
function checkHead(
  channel: string,
  last: SignedCheckpoint | null,
  head: SignedCheckpoint | null,
  serverKey: Uint8Array,
): void {
  if (head === null) {
    if (last !== null)
      throw new LogProblem(
        channel,
        last.checkpoint.seq,
        'CHECKPOINT_INVALID',
        'the server reports no head for a log with entries',
      );
    return;
  }
  if (!verifyCheckpoint(head, serverKey)) {
    throw new LogProblem(
      channel,
      head.checkpoint.seq,
      'CHECKPOINT_INVALID',
      'the head checkpoint is not signed by the server key',
    );
  }
  if (last === null) {
    throw new LogProblem(
      channel,
      head.checkpoint.seq,
      'SEQ_GAP',
      'the server signed a head but returned no entries',
    );
  }
  const relation = compareCheckpoints(last, head);
  if (relation !== 'same') {
    throw new LogProblem(
      channel,
      head.checkpoint.seq,
      relation.toUpperCase(),
      `the head checkpoint (seq ${head.checkpoint.seq}) does not match the last entry (seq ${last.checkpoint.seq})`,
    );
  }
}

/** Fetches every page of one channel's log and verifies it incrementally, page by page. */
async function verifyChannel(ctx: VerifyContext, channel: string): Promise<ChannelReport> {
  const progress = progressReporter(`Verifying ${channel}`);
  let previous: LogHead | null = null;
  let statements = 0;
  let lastCheckpoint: SignedCheckpoint | null = null;
  let head: SignedCheckpoint | null = null;
  try {
    for (;;) {
      const page = await ctx.client.getLogPage(ctx.app, channel, {
        after: previous?.seq ?? 0,
        limit: PAGE_SIZE,
      });
      if (page.app !== ctx.app || page.channel !== channel) {
        throw new LogProblem(
          channel,
          (previous?.seq ?? 0) + 1,
          'APP_CHANNEL_MISMATCH',
          `the server sent the log of ${page.app}/${page.channel}`,
        );
      }
      head = page.head;
      const total = head?.checkpoint.seq ?? 0;
      const result = verifyLogEntries(page.entries, {
        roots: ctx.roots,
        serverKey: ctx.serverKey,
        previous,
        app: ctx.app,
        channel,
        now: new Date(),
        onProgress: (done) => progress.update(statements + done, total),
      });
      if (!result.ok) throw new LogProblem(channel, result.seq, result.problem, result.message);
      statements += result.verified;
      previous = result.head;
      lastCheckpoint = page.entries.at(-1)?.checkpoint ?? lastCheckpoint;
      if (!page.more || page.entries.length === 0) break;
    }
  } finally {
    progress.finish();
  }
  checkHead(channel, lastCheckpoint, head, ctx.serverKey);
  return { channel, statements, head: previous };
}

/** The app's channels: `--channel`, or every channel the server lists (a public read). */
async function channelsOf(
  client: ServerClient,
  values: { channel?: string },
  app: string,
): Promise<string[]> {
  if (values.channel !== undefined) return [values.channel];
  const found = (await client.listApps()).find((candidate) => candidate.app === app);
  if (found === undefined) throw new AirlockError('NOT_FOUND', `The server has no app ${app}.`);
  return (found.channels ?? []).map((channel) =>
    typeof channel === 'string' ? channel : channel.name,
  );
}

async function verify(argv: string[]): Promise<void> {
  const usage = LOG_USAGE;
  const { values } = parseCommand(
    argv,
    { ...SERVER_OPTIONS, app: { type: 'string' }, channel: { type: 'string' } },
    { min: 0, max: 0, usage },
  );
  const app = required(values.app, '--app', usage);
  const client = publicClient(values, usage);
  const { chain, firstRootId, serverKey } = await pinnedChain(client.baseUrl);
  process.stderr.write(
    `Trust root version 1 fingerprint ${firstRootId} (compare it out of band)\n`,
  );
  const ctx: VerifyContext = { client, app, roots: chain.roots, serverKey };
  const reports: ChannelReport[] = [];
  for (const channel of await channelsOf(client, values, app))
    reports.push(await verifyChannel(ctx, channel));
  if (values.json === true) {
    printJson({ ok: true, app, rootVersion: chain.roots.length, channels: reports });
    return;
  }
  for (const report of reports) {
    const head = report.head === null ? 'empty' : `head ${report.head.seq} ${report.head.head}`;
    printLine(`ok: ${report.statements} statements, ${head} (${app}/${report.channel})`);
  }
}

const COMMANDS: Record<string, (argv: string[]) => Promise<void>> = { verify };

export async function logCommand(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  const command = name === undefined ? undefined : COMMANDS[name];
  if (command === undefined) throw new UsageError(`usage:\n${LOG_USAGE}`);
  await command(rest);
}
