import {
  bytesToBase64,
  checkpointSigningBytes,
  statementId,
  statementSigningBytes,
} from '../../core';
import { compareSemver, parseSemver } from '../../core/channel';
import type { ChannelState } from '../../core/channel';
import type {
  Approval,
  ChannelSettings,
  ChannelStatus,
  LogEntry,
  SignedCheckpoint,
  Statement,
} from '../../shared/schemas';
import type { ServerSigner } from '../server-key';
import type {
  DeviceFacingChannel,
  DeviceFacingRelease,
  EvidenceLimits,
  OutcomeReport,
} from './device-store';
import type { ApplyInput, VersionOutcomes } from './types';

/**
 * The domain rules every ServerStore backend applies the same way (issue 15 item 2: "move domain
 * logic out of the SQLite store so a second backend does not copy it"). Pure functions over plain
 * values: the backends only read and write what these decide.
 */

/** How long a signed head checkpoint is served before it is signed again with a fresh time. */
export const HEAD_RESIGN_MS = 60_000;

/** An automatic pause expires after a day unless it is applied (it always is, at once). */
const AUTOMATIC_PAUSE_LIFETIME_MS = 24 * 60 * 60 * 1000;

/** Signs `checkpoint` with the server key (ARCHITECTURE.md §3). */
export function signCheckpoint(
  signer: ServerSigner,
  checkpoint: SignedCheckpoint['checkpoint'],
): SignedCheckpoint {
  const sig = signer.signSync(checkpointSigningBytes(checkpoint));
  return { checkpoint, keyId: signer.info.keyId, sig: bytesToBase64(sig) };
}

/**
 * True when `signed` still vouches for the head `seq`/`head` at `nowMs`: same position, signed
 * less than HEAD_RESIGN_MS ago (ARCHITECTURE.md §3 "freeze": a mirror compares its time with its
 * clock, so the head is re-signed with a fresh time at most once an interval).
 */
export function headIsFresh(
  signed: SignedCheckpoint | null | undefined,
  seq: number,
  head: string,
  nowMs: number,
): signed is SignedCheckpoint {
  return (
    signed != null &&
    signed.checkpoint.seq === seq &&
    signed.checkpoint.head === head &&
    nowMs - Date.parse(signed.checkpoint.time) < HEAD_RESIGN_MS
  );
}

/** The head checkpoint of `seq`/`head` signed now, with the head entry's root version (§11). */
export function signHead(
  signer: ServerSigner,
  position: { app: string; channel: string; seq: number; head: string },
  rootVersion: number | null,
  now: Date,
): SignedCheckpoint {
  return signCheckpoint(signer, {
    ...position,
    time: now.toISOString(),
    ...(rootVersion === null ? {} : { rootVersion }),
  });
}

/**
 * The server-signed `pause` with `automatic: true` that extends the channel's head
 * (ARCHITECTURE.md "Automatic pause"): it only reduces exposure, and the store's seq/prev check
 * inside the apply transaction makes it happen once, also across processes.
 */
export function automaticPause(
  signer: ServerSigner,
  position: { app: string; channel: string; seq: number; head: string | null },
  reason: string,
  rootVersion: number,
  now: Date,
): ApplyInput {
  const statement: Statement = {
    v: 1,
    kind: 'pause',
    automatic: true,
    app: position.app,
    channel: position.channel,
    seq: position.seq + 1,
    prev: position.head,
    createdAt: now.toISOString(),
    expiresAt: new Date(now.getTime() + AUTOMATIC_PAUSE_LIFETIME_MS).toISOString(),
    proposer: signer.info.keyId,
  };
  return {
    id: statementId(statement),
    statement,
    approvals: [],
    newApprovals: [],
    serverSig: bytesToBase64(signer.signSync(statementSigningBytes(statement))),
    note: reason,
    rootVersion,
  };
}

/** `candidate` when it is a greater version than `highest` (or the first one). */
export function higherOf(highest: string | null, candidate: string): string | null {
  const next = parseSemver(candidate);
  if (next === null) return highest;
  const current = highest === null ? null : parseSemver(highest);
  return current === null || compareSemver(next, current) > 0 ? candidate : highest;
}

/**
 * What a channel has released, kept up to date as releases apply (never rebuilt from the log, so
 * applying costs the same at seq 10 and seq 100,000). Shared by a channel's successive views: it
 * only grows, so an older view reading the newer set is harmless.
 */
export interface Released {
  readonly versions: Set<string>;
  highest: string | null;
}

/** Per channel id: what it released, created on first use. */
export class ReleasedVersions {
  private readonly byChannel = new Map<number, Released>();

  /** The channel's Released; `version` (if any) added. */
  of(channelId: number, version?: string): Released {
    let released = this.byChannel.get(channelId);
    if (released === undefined) {
      released = { versions: new Set(), highest: null };
      this.byChannel.set(channelId, released);
    }
    if (version !== undefined) {
      released.versions.add(version);
      released.highest = higherOf(released.highest, version);
    }
    return released;
  }
}

/** The evidence counters of one counting period. */
export interface EvidenceTotals {
  devices: number;
  successes: number;
  failures: number;
}

/** What recording a batch of outcomes changes (ARCHITECTURE.md "Automatic pause"). */
export interface OutcomeChanges {
  /** Devices seen for the first time this period. */
  readonly inserts: readonly OutcomeReport[];
  /** Devices whose success becomes a failure. */
  readonly failures: readonly string[];
  readonly totals: EvidenceTotals;
  /** Devices the source has added this period, after the batch. */
  readonly sourceDevices: number;
  readonly changed: boolean;
}

/**
 * Folds one source's outcome reports into a period's evidence. `seen` holds what the period
 * already recorded for the reported devices (device id → failed). One outcome per device: a
 * failure after a success replaces it (a crash after the install is what matters), anything else
 * is a repeat. A source adds at most `limits.perSource` devices, a period `limits.devices`
 * ("Unauthenticated input": device ids are chosen by the sender, so neither a source nor the
 * whole internet can outvote the fleet or grow storage without bound).
 */
export function foldOutcomes(
  seen: ReadonlyMap<string, boolean>,
  start: { totals: EvidenceTotals; sourceDevices: number },
  reports: readonly OutcomeReport[],
  limits: EvidenceLimits,
): OutcomeChanges {
  const totals = { ...start.totals };
  let sourceDevices = start.sourceDevices;
  const known = new Map(seen);
  const inserts: OutcomeReport[] = [];
  const failures: string[] = [];
  for (const report of reports) {
    const failed = known.get(report.deviceId);
    if (failed !== undefined) {
      if (!failed && report.failed) {
        known.set(report.deviceId, true);
        const inserted = inserts.findIndex((entry) => entry.deviceId === report.deviceId);
        if (inserted >= 0) inserts[inserted] = report;
        else failures.push(report.deviceId);
        totals.successes--;
        totals.failures++;
      }
      continue;
    }
    if (sourceDevices >= limits.perSource || totals.devices >= limits.devices) continue;
    known.set(report.deviceId, report.failed);
    inserts.push(report);
    sourceDevices++;
    totals.devices++;
    if (report.failed) totals.failures++;
    else totals.successes++;
  }
  return {
    inserts,
    failures,
    totals,
    sourceDevices,
    changed: inserts.length > 0 || failures.length > 0,
  };
}

/** One row of the grouped health query: a version, an hour bucket (null: before the window). */
export interface HealthRow {
  readonly version: string;
  readonly bucket: number | null;
  readonly successes: number;
  readonly failures: number;
}

/** Groups the health query's rows (release order, buckets ascending) into VersionOutcomes. */
export function groupHealth(rows: readonly HealthRow[]): VersionOutcomes[] {
  const versions = new Map<
    string,
    {
      version: string;
      successes: number;
      failures: number;
      series: { hour: number; successes: number; failures: number }[];
    }
  >();
  for (const row of rows) {
    let entry = versions.get(row.version);
    if (entry === undefined) {
      entry = { version: row.version, successes: 0, failures: 0, series: [] };
      versions.set(row.version, entry);
    }
    entry.successes += row.successes;
    entry.failures += row.failures;
    if (row.bucket !== null && row.successes + row.failures > 0) {
      entry.series.push({ hour: row.bucket, successes: row.successes, failures: row.failures });
    }
  }
  return [...versions.values()];
}

/** A log row as both backends store it: the statement's canonical body and JSON texts. */
export interface LogRow {
  readonly seq: number;
  readonly statement: string;
  readonly body: string;
  readonly approvals: string;
  readonly server_sig: string | null;
  readonly applied_at: string;
  readonly checkpoint: string;
  readonly root_version: number | null;
}

export function logEntryOf(row: LogRow): LogEntry {
  const entry: LogEntry = {
    seq: row.seq,
    id: row.statement,
    statement: JSON.parse(row.body) as Statement,
    approvals: JSON.parse(row.approvals) as Approval[],
    appliedAt: row.applied_at,
    ...(row.root_version === null ? {} : { rootVersion: row.root_version }),
    checkpoint: JSON.parse(row.checkpoint) as SignedCheckpoint,
  };
  return row.server_sig === null ? entry : { ...entry, serverSig: row.server_sig };
}

/** A channel as both backends hold it: its settings, its bundle key and the fold's state. */
export interface ChannelRecord {
  readonly id: number;
  readonly app: string;
  readonly name: string;
  readonly settings: ChannelSettings;
  readonly state: ChannelState;
}

/**
 * A channel's device view (what /updates reads): its record, the current release's statement
 * (null when there is none) and what it released so far.
 */
export function deviceView(
  record: ChannelRecord,
  release: Statement | null,
  released: Released,
): DeviceFacingChannel {
  const { state } = record;
  let current: DeviceFacingRelease | null = null;
  if (state.currentRelease !== null && release?.kind === 'release') {
    current = {
      statementId: state.currentRelease,
      version: release.release.version,
      minNativeVersion: release.release.minNativeVersion,
      rolloutPercent: state.rolloutPercent ?? release.release.rollout.percent,
      bundle: release.release.bundle,
    };
  }
  return {
    app: record.app,
    channel: record.name,
    numericId: record.id,
    settings: record.settings,
    current,
    paused: state.paused,
    rolledBack: state.rolledBack,
    releasedVersions: released.versions,
    highestVersion: released.highest,
    countingSince: state.countingSince,
  };
}

/** The admin API's status of a channel, from its record and device view. */
export function channelStatusOf(record: ChannelRecord, view: DeviceFacingChannel): ChannelStatus {
  const current = view.current;
  return {
    app: record.app,
    channel: record.name,
    settings: view.settings,
    seq: record.state.seq,
    head: record.state.head,
    current:
      current === null
        ? null
        : {
            statementId: current.statementId,
            version: current.version,
            minNativeVersion: current.minNativeVersion,
            rolloutPercent: current.rolloutPercent,
            encryptedSha256: current.bundle.encryptedSha256,
          },
    paused: view.paused,
    rolledBack: view.rolledBack,
  };
}
