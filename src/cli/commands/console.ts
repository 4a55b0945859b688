import { AirlockError } from '../../core/errors';
import { outboxSigners, type Signers } from '../../main/identity';
import { createOsKeychain } from '../../main/keys/keychain';
import { KeyStore } from '../../main/keys/key-store';
import { ConsoleServices } from '../../main/services/console';
import { Workflow } from '../../main/services/workflow';
import type { DeliveryReport } from '../../main/services/outbox';
import { parseCommand, UsageError } from '../args';
import { printJson, printLine, progressReporter, warn } from '../io';
import { readText } from './remote';

/**
 * The console's offline-first commands (issue 4, ARCHITECTURE.md §7): pin a server, sync (deliver the
 * outbox, then pull and verify the logs), look at what waits, import approval files, and check
 * the local audit trail.
 */

export const CONSOLE_USAGE = `airlock connect <URL> [--expect-root ROOT_ID] [--json]
airlock sync [--server URL] [--app A --channel C] [--json]
airlock outbox [--json] | airlock outbox retry <id>
airlock import <approval.json> [--no-push] [--json]
airlock audit verify [--json] | airlock audit list [--json]`;

/**
 * Signers for what waits in the outbox (src/main/identity.ts): the key each item was queued with
 * (a CI proposer's environment key only for what it proposed, ARCHITECTURE.md §2), else the
 * identity ARCHITECTURE.md §8 picks.
 */
function signersFor(identity: string | undefined): Signers {
  return outboxSigners(() => new KeyStore(createOsKeychain()), { keyId: identity, warn });
}

/** One line per delivery outcome, on stderr. */
export function reportDelivery(url: string, report: DeliveryReport): void {
  for (const item of report.delivered) {
    process.stderr.write(`Delivered ${item.payload.kind} #${item.id} to ${url}\n`);
  }
  for (const { item, error, code } of report.failed) {
    process.stderr.write(`Refused ${item.payload.kind} #${item.id} (${code}): ${error}\n`);
  }
  if (report.waiting !== null) {
    process.stderr.write(
      `Queued: ${report.waiting.error} The outbox will send it on the next "airlock sync" (see "airlock outbox").\n`,
    );
  }
}

async function connectCommand(argv: string[]): Promise<void> {
  const usage = 'airlock connect <URL> [--expect-root ROOT_ID] [--json]';
  const { values, positionals } = parseCommand(
    argv,
    { 'expect-root': { type: 'string' }, json: { type: 'boolean' } },
    { min: 1, max: 1, usage },
  );
  const services = ConsoleServices.open();
  try {
    const expect = values['expect-root'];
    const result = await services.connect(
      positionals[0] as string,
      expect === undefined ? {} : { expectRootId: expect },
    );
    if (values.json === true) {
      printJson({
        url: result.server.url,
        firstContact: result.firstContact,
        rootId: result.rootId,
        fingerprint: result.fingerprint,
        rootVersion: result.rootVersion,
        findings: result.findings,
      });
      return;
    }
    printLine(`${result.firstContact ? 'Pinned' : 'Connected to'} ${result.server.url}`);
    printLine(
      `Trust root fingerprint: ${result.fingerprint} (${result.rootId}); now at version ${result.rootVersion}`,
    );
    if (result.firstContact) {
      process.stderr.write(
        'Compare this fingerprint with the one "airlock server init" printed, over a channel you trust.\n',
      );
    }
    for (const finding of result.findings) warn(finding.message);
  } finally {
    services.close();
  }
}

async function syncCommand(argv: string[]): Promise<void> {
  const usage = 'airlock sync [--server URL] [--app A --channel C] [--identity K] [--json]';
  const { values } = parseCommand(
    argv,
    {
      server: { type: 'string' },
      app: { type: 'string' },
      channel: { type: 'string' },
      identity: { type: 'string' },
      json: { type: 'boolean' },
    },
    { min: 0, max: 0, usage },
  );
  if ((values.app === undefined) !== (values.channel === undefined)) {
    throw new UsageError(`give --app and --channel together\nusage: ${usage}`);
  }
  const services = ConsoleServices.open();
  try {
    const servers =
      values.server === undefined ? services.servers() : [services.requireServer(values.server)];
    if (servers.length === 0) {
      throw new AirlockError(
        'NOT_FOUND',
        'This console is not connected to a server yet: run "airlock connect URL".',
      );
    }
    const signers = signersFor(values.identity);
    const workflow = new Workflow(services);
    const results = [];
    const unreachable: string[] = [];
    let findings = 0;
    for (const pinned of servers) {
      // The pin moves forward through the verified chain before any log is judged (workflow rule 1).
      const contact = await workflow.contact(pinned.url);
      const { server } = contact;
      for (const finding of contact.findings) warn(finding.message);
      findings += contact.findings.length;
      if (!contact.online) {
        unreachable.push(contact.warning ?? `Cannot reach ${server.url}.`);
        continue;
      }
      const delivery = await workflow.deliver(server.url, signers);
      reportDelivery(server.url, delivery);
      const channels =
        values.app !== undefined && values.channel !== undefined
          ? [{ app: values.app, channel: values.channel }]
          : services.channels(server);
      for (const { app, channel } of channels) {
        const progress = progressReporter(`Verifying ${app}/${channel}`);
        const report = await services
          .sync(server, app, channel, { onProgress: (p) => progress.update(p.verified, p.total) })
          .finally(() => progress.finish());
        findings += report.findings.length;
        results.push({ server: server.url, ...report });
        if (values.json !== true) {
          printLine(`${server.url} ${app}/${channel}: seq ${report.seq} (+${report.added})`);
          for (const finding of report.findings) {
            printLine(`  ${finding.kind} at seq ${finding.seq ?? '-'}: ${finding.message}`);
          }
        }
      }
      if (values.json !== true && delivery.waiting !== null) {
        printLine(
          `${server.url}: ${services.outbox.list(['pending']).length} item(s) still queued`,
        );
      }
    }
    if (values.json === true) printJson({ channels: results });
    if (unreachable.length > 0) {
      const waiting = services.outbox.list(['pending']).length;
      throw new AirlockError(
        'IO_ERROR',
        `${unreachable.join(' ')} ${waiting} item(s) wait in the outbox; the mirror is as of the last sync.`,
      );
    }
    if (findings > 0) {
      throw new AirlockError(
        'SIGNATURE_INVALID',
        `The mirror found ${findings} problem(s) with the server's log; its verified data was kept.`,
      );
    }
  } finally {
    services.close();
  }
}

function outboxCommand(argv: string[]): void {
  const usage = 'airlock outbox [--json] | airlock outbox retry <id>';
  const { values, positionals } = parseCommand(
    argv,
    { json: { type: 'boolean' } },
    { min: 0, max: 2, usage },
  );
  const services = ConsoleServices.open();
  try {
    if (positionals[0] === 'retry') {
      const id = Number(positionals[1]);
      if (!Number.isInteger(id)) throw new UsageError(`usage: ${usage}`);
      services.outbox.retry(id);
      printLine(`Outbox item #${id} will be sent on the next "airlock sync".`);
      return;
    }
    if (positionals.length > 0) throw new UsageError(`usage: ${usage}`);
    const items = services.outbox.list(['pending', 'failed']);
    if (values.json === true) {
      printJson({ items });
      return;
    }
    if (items.length === 0) {
      printLine('The outbox is empty: nothing waits for a server.');
      return;
    }
    for (const item of items) {
      const subject =
        'statementId' in item.payload ? ` ${item.payload.statementId.slice(0, 16)}…` : '';
      const why = item.lastError === null ? 'not sent yet' : item.lastError;
      printLine(
        `#${item.id} ${item.state} ${item.payload.kind}${subject} → ${item.serverUrl} (${item.attempts} attempt(s)): ${why}`,
      );
    }
  } finally {
    services.close();
  }
}

async function importCommand(argv: string[]): Promise<void> {
  const usage = 'airlock import <approval.json> [--no-push] [--identity K] [--json]';
  const { values, positionals } = parseCommand(
    argv,
    { identity: { type: 'string' }, 'no-push': { type: 'boolean' }, json: { type: 'boolean' } },
    { min: 1, max: 1, usage },
  );
  const services = ConsoleServices.open();
  try {
    const imported = await new Workflow(services).importApproval({
      text: await readText(positionals[0] as string),
      signers: signersFor(values.identity),
      push: values['no-push'] !== true,
    });
    for (const warning of imported.warnings) warn(warning);
    const pushed = imported.push?.result ?? null;
    if (values.json === true) {
      printJson({
        statementId: imported.statementId,
        approval: imported.approval,
        verdict: imported.verdict,
        pushable: imported.pushable,
        pushQueued: imported.push?.queued ?? false,
        pushed,
        queued: services.outbox.list(['pending']).length,
      });
      return;
    }
    printLine(
      `Imported the approval by ${imported.approval.keyId.slice(0, 16)}: ${imported.verdict.summary}.`,
    );
    if (pushed !== null) printLine('The policy is satisfied: pushed to the server.');
    else if (imported.push?.queued === true)
      printLine('The policy is satisfied: the push waits in the outbox.');
    else if (imported.pushable)
      printLine(
        `The policy is satisfied: push it with "airlock push ${imported.statementId} --server ${imported.stored.serverUrl ?? 'URL'}".`,
      );
  } finally {
    services.close();
  }
}

function auditCommand(argv: string[]): void {
  const usage = 'airlock audit verify [--json] | airlock audit list [--json]';
  const { values, positionals } = parseCommand(
    argv,
    { json: { type: 'boolean' } },
    { min: 1, max: 1, usage },
  );
  const services = ConsoleServices.open();
  try {
    if (positionals[0] === 'list') {
      const entries = services.audit.list(0, 100_000);
      if (values.json === true) printJson({ entries });
      else
        for (const e of entries)
          printLine(
            `${e.seq} ${e.time} ${e.action} ${e.actor.slice(0, 16)} ${JSON.stringify(e.details)}`,
          );
      return;
    }
    if (positionals[0] !== 'verify') throw new UsageError(`usage: ${usage}`);
    const verdict = services.audit.verify();
    if (values.json === true) printJson(verdict);
    if (!verdict.ok) {
      throw new AirlockError(
        'SIGNATURE_INVALID',
        `The audit trail is broken at entry ${verdict.brokenAt}: ${verdict.reason}.`,
      );
    }
    if (values.json !== true) printLine(`ok: ${verdict.entries} entries, head ${verdict.head}`);
  } finally {
    services.close();
  }
}

export async function consoleCommand(name: string, argv: string[]): Promise<void> {
  switch (name) {
    case 'connect':
      return connectCommand(argv);
    case 'sync':
      return syncCommand(argv);
    case 'outbox':
      return outboxCommand(argv);
    case 'import':
      return importCommand(argv);
    case 'audit':
      return auditCommand(argv);
    default:
      throw new UsageError(`unknown command "${name}"\nusage: ${CONSOLE_USAGE}`);
  }
}
