import { useMemo, useState } from 'react';
import {
  Bar,
  BarChart,
  CartesianGrid,
  Legend,
  Line,
  LineChart,
  ReferenceLine,
  ResponsiveContainer,
  Tooltip,
  XAxis,
  YAxis,
} from 'recharts';
import type { IpcResponse } from '../../../../shared/ipc/contract';
import {
  ChannelPicker,
  channelKey,
  useChosenChannel,
  type ChannelRef,
} from '../../components/ChannelPicker';
import { EmptyState, Loading } from '../../components/EmptyState';
import { ConfirmDialog } from '../../components/ConfirmDialog';
import { ErrorBanner } from '../../components/ErrorBanner';
import { api, useAction, useQuery } from '../../lib/api';
import { ProposalResult } from '../release/ProposalResult';

type Health = IpcResponse<'health:series'>;
type VersionHealth = Health['versions'][number];
type HistoryEntry = IpcResponse<'history:list'>['entries'][number];

const NO_ENTRIES: readonly HistoryEntry[] = [];

const HOUR_MS = 3_600_000;
const CHART_HEIGHT = 260;
/** Series colors: `--health-1` … `--health-6` in styles.css (light and dark). */
const PALETTE_SIZE = 6;

const WINDOWS = [
  { hours: 24, label: '24 h' },
  { hours: 168, label: '7 days' },
  { hours: 720, label: '30 days' },
] as const;
type WindowHours = (typeof WINDOWS)[number]['hours'];

const AXIS_TICK = { fill: 'var(--muted)', fontSize: 12 };
const TOOLTIP_STYLE = {
  background: 'var(--panel)',
  border: '1px solid var(--border)',
  borderRadius: 6,
  color: 'var(--text)',
};

function color(index: number): string {
  return `var(--health-${(index % PALETTE_SIZE) + 1})`;
}

/** 0.9671 → `96.7%`; null → `—`. */
function percent(value: number | null): string {
  if (value === null) return '—';
  const scaled = value * 100;
  return `${Number.isInteger(scaled) ? scaled : scaled.toFixed(1)}%`;
}

/** A tick of the time axis: the time of day for a span of two days or less, the date otherwise. */
function tickLabel(time: number, span: number): string {
  const date = new Date(time);
  return span <= 48 * HOUR_MS
    ? date.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' })
    : date.toLocaleDateString(undefined, { month: 'short', day: 'numeric' });
}

/** Tick steps, in hours, the axis picks from: about six ticks whatever the span. */
const TICK_STEPS = [1, 2, 3, 4, 6, 12, 24, 48, 72, 120, 168] as const;

/** Ticks of a continuous time axis over [from, to], on whole steps, at most about seven. */
function timeTicks(from: number, to: number): number[] {
  const hours = (to - from) / HOUR_MS;
  const step = (TICK_STEPS.find((candidate) => hours / candidate <= 7) ?? 168) * HOUR_MS;
  const ticks: number[] = [];
  for (let tick = Math.ceil(from / step) * step; tick <= to; tick += step) ticks.push(tick);
  return ticks;
}

function fullHour(time: number): string {
  return new Date(time).toLocaleString(undefined, {
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
  });
}

/** Where a version stands against the automatic pause (src/server/device/wilson.ts rules). */
function pauseVerdict(health: Health, version: VersionHealth): string {
  const { failureLowerBound: bound, successes, failures } = version.totals;
  if (health.failureThreshold === null || health.minSamples === null) {
    return 'Automatic pause off';
  }
  if (bound === null) return 'No outcomes yet';
  if (bound <= health.failureThreshold) return 'Within threshold';
  const samples = successes + failures;
  return samples >= health.minSamples
    ? 'Above threshold'
    : `Above threshold, too few outcomes to pause (${samples}/${health.minSamples})`;
}

interface Chart {
  /** Index into `versions` of each series (the chart's data keys are `s<index>`). */
  readonly series: number[];
  readonly rows: Record<string, number | string>[];
}

/**
 * Adoption: successful installs per version, cumulative, so each line ends at the version's total
 * (it starts at the installs counted before the window).
 */
function adoptionChart(health: Health, start: number, end: number): Chart {
  const series = health.versions.flatMap((version, index) =>
    version.totals.successes > 0 ? [index] : [],
  );
  const running = series.map((index) => {
    const version = health.versions[index] as VersionHealth;
    const inWindow = version.series.reduce((sum, point) => sum + point.successes, 0);
    return version.totals.successes - inWindow;
  });
  const byHour = new Map<number, Map<number, number>>();
  series.forEach((index) => {
    for (const point of (health.versions[index] as VersionHealth).series) {
      const hour = Date.parse(point.hour);
      const row = byHour.get(hour) ?? new Map<number, number>();
      row.set(index, point.successes);
      byHour.set(hour, row);
    }
  });
  const snapshot = (time: number): Record<string, number> => {
    const row: Record<string, number> = { time };
    series.forEach((index, position) => (row[`s${index}`] = running[position] ?? 0));
    return row;
  };
  const rows = [snapshot(start)];
  let last = start;
  for (const hour of [...byHour.keys()].sort((a, b) => a - b)) {
    // Flat until the hour starts, then up to its count by the hour's end.
    if (hour > last) rows.push(snapshot(hour));
    const added = byHour.get(hour);
    series.forEach((index, position) => {
      running[position] = (running[position] ?? 0) + (added?.get(index) ?? 0);
    });
    last = Math.min(hour + HOUR_MS, end);
    rows.push(snapshot(last));
  }
  if (last < end) rows.push(snapshot(end));
  return { series, rows };
}

/** Dash patterns of the series, so versions are told apart without colour (WCAG 1.4.1). */
const DASHES = ['', '8 4', '2 3', '10 3 2 3', '4 4', '1 5'] as const;

function dash(index: number): string {
  return DASHES[index % DASHES.length] ?? '';
}

/**
 * Failures per hour (every version together, in the failure colour) and the failure rate per
 * version and hour (failures over outcomes), on the continuous time axis; hours without outcomes
 * have no rate and leave a gap.
 */
function failureCharts(health: Health): {
  bars: { time: number; failures: number }[];
  rates: Chart;
  total: number;
} {
  const failures = new Map<number, number>();
  const rates = new Map<number, Record<string, number>>();
  const series: number[] = [];
  health.versions.forEach((version, index) => {
    if (version.series.length > 0) series.push(index);
    for (const point of version.series) {
      const hour = Date.parse(point.hour);
      failures.set(hour, (failures.get(hour) ?? 0) + point.failures);
      const outcomes = point.successes + point.failures;
      if (outcomes === 0) continue;
      // Drawn at the middle of its hour.
      const time = hour + HOUR_MS / 2;
      const row = rates.get(time) ?? { time };
      row[`s${index}`] = point.failures / outcomes;
      rates.set(time, row);
    }
  });
  const bars = [...failures.entries()]
    .sort(([a], [b]) => a - b)
    .map(([hour, count]) => ({ time: hour + HOUR_MS / 2, failures: count }));
  return {
    bars,
    rates: {
      series,
      rows: [...rates.values()].sort((a, b) => Number(a['time']) - Number(b['time'])),
    },
    total: bars.reduce((sum, bar) => sum + bar.failures, 0),
  };
}

function windowLabel(hours: number): string {
  return WINDOWS.find((entry) => entry.hours === hours)?.label ?? `${hours} h`;
}

/** The per-version totals, as text: what the charts show, readable without them. */
function TotalsTable(props: { health: Health }): React.JSX.Element {
  const { health } = props;
  return (
    <table className="table health-totals" aria-label="Health per version">
      <thead>
        <tr>
          <th scope="col">Version</th>
          <th scope="col">Successful installs</th>
          <th scope="col">Failures</th>
          <th scope="col">Success rate</th>
          <th scope="col">Failure rate, lower bound (95 %)</th>
          <th scope="col">Automatic pause</th>
        </tr>
      </thead>
      <tbody>
        {health.versions.map((version, index) => {
          const verdict = pauseVerdict(health, version);
          return (
            <tr key={version.version}>
              <th scope="row">
                <span className="health-swatch" style={{ background: color(index) }} />
                {version.version}
                {version.version === health.currentVersion && (
                  <span className="muted"> (current)</span>
                )}
              </th>
              <td>{version.totals.successes}</td>
              <td>{version.totals.failures}</td>
              <td>{percent(version.totals.successRate)}</td>
              <td>{percent(version.totals.failureLowerBound)}</td>
              <td className={verdict.startsWith('Above') ? 'health-over' : undefined}>{verdict}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

/** A statement of the channel's signed log, as a marker on the charts. */
export interface HealthEvent {
  readonly time: number;
  readonly label: string;
  readonly kind: 'release' | 'rollout' | 'pause' | 'resume' | 'rollback';
}

/** The events of the verified log that fall in [from, to] (ARCHITECTURE.md §7: the mirror). */
function eventsOf(entries: readonly HistoryEntry[], from: number, to: number): HealthEvent[] {
  return entries.flatMap((entry): HealthEvent[] => {
    const time = Date.parse(entry.appliedAt);
    if (Number.isNaN(time) || time < from || time > to) return [];
    switch (entry.kind) {
      case 'release':
        return [{ time, kind: 'release', label: `Release ${entry.version ?? ''}` }];
      case 'rollout':
        return [{ time, kind: 'rollout', label: `Rollout ${entry.rolloutPercent ?? '?'}%` }];
      case 'pause':
        return [{ time, kind: 'pause', label: entry.automatic ? 'Auto-pause' : 'Pause' }];
      case 'resume':
        return [{ time, kind: 'resume', label: 'Resume' }];
      case 'rollback':
        return [{ time, kind: 'rollback', label: 'Rollback' }];
      default:
        return [];
    }
  });
}

/**
 * The vertical markers of `events`, labelled (the label, not the colour, says which). Events
 * closer than `near` share one marker, their labels joined, so they do not print over each other.
 */
function markers(
  events: readonly HealthEvent[],
  near: number,
  labelled: boolean,
): React.JSX.Element[] {
  const groups: HealthEvent[][] = [];
  for (const event of events) {
    const last = groups.at(-1);
    const first = last?.[0];
    if (last !== undefined && first !== undefined && event.time - first.time < near)
      last.push(event);
    else groups.push([event]);
  }
  return groups.map((group) => {
    const first = group[0] as HealthEvent;
    const label = group.map((event) => event.label).join(' · ');
    return (
      <ReferenceLine
        key={`${first.time}-${label}`}
        x={first.time}
        stroke={
          group.some((event) => event.kind === 'pause') ? 'var(--danger)' : 'var(--control-border)'
        }
        strokeDasharray="3 3"
        {...(labelled && {
          label: { value: label, position: 'insideTopRight', fill: 'var(--text)', fontSize: 12 },
        })}
      />
    );
  });
}

/**
 * The span the charts draw: from an hour before the first outcome or event in the window (so a
 * release of this morning does not sit as a spike at the right edge of a week) to now.
 */
function fittedSpan(health: Health, events: readonly HealthEvent[]): [number, number] {
  const start = Date.parse(health.since);
  const end = start + health.hours * HOUR_MS;
  const first = Math.min(
    ...health.versions.flatMap((version) =>
      version.series
        .filter((point) => point.successes + point.failures > 0)
        .map((point) => Date.parse(point.hour)),
    ),
    ...events.map((event) => event.time),
  );
  if (!Number.isFinite(first)) return [start, end];
  return [Math.max(start, Math.min(first - HOUR_MS, end - 6 * HOUR_MS)), end];
}

function Charts(props: { health: Health; events: readonly HealthEvent[] }): React.JSX.Element {
  const { health, events } = props;
  const [from, to] = useMemo(() => fittedSpan(health, events), [health, events]);
  const adoption = useMemo(() => adoptionChart(health, from, to), [health, from, to]);
  const failures = useMemo(() => failureCharts(health), [health]);
  const span = windowLabel(health.hours);
  const ticks = timeTicks(from, to);
  // Events within 3 % of the span share a marker.
  const near = (to - from) * 0.03;
  const names = (key: unknown): string =>
    health.versions[Number(String(key).slice(1))]?.version ?? String(key);
  const timeAxis = (
    <XAxis
      dataKey="time"
      type="number"
      scale="time"
      domain={[from, to]}
      ticks={ticks}
      tickFormatter={(time: number) => tickLabel(time, to - from)}
      tick={AXIS_TICK}
      stroke="var(--control-border)"
      allowDataOverflow
    />
  );

  if (adoption.rows.length === 0 && failures.bars.length === 0) {
    return <p className="muted">No installs or failures were reported in the last {span}.</p>;
  }
  const threshold = health.failureThreshold;
  return (
    <div className="health-charts">
      <figure className="health-chart" aria-labelledby="health-rate-title">
        <figcaption id="health-rate-title">Failure rate per hour</figcaption>
        <p className="muted small">
          {threshold === null || health.minSamples === null
            ? 'Automatic pause is off: no threshold.'
            : `Dashed red line: the pause threshold, ${percent(threshold)}, judged once a release has ${health.minSamples} outcomes.`}
        </p>
        <ResponsiveContainer width="100%" height={CHART_HEIGHT}>
          <LineChart data={failures.rates.rows} margin={{ top: 16, right: 16, bottom: 0, left: 0 }}>
            <CartesianGrid stroke="var(--border)" strokeDasharray="3 3" />
            {timeAxis}
            <YAxis
              domain={[0, 1]}
              tickFormatter={(value: number) => percent(value)}
              tick={AXIS_TICK}
              stroke="var(--control-border)"
              width={48}
            />
            <Tooltip
              contentStyle={TOOLTIP_STYLE}
              labelFormatter={(time) => fullHour(Number(time) - HOUR_MS / 2)}
              formatter={(value) => percent(Number(value))}
            />
            <Legend />
            {threshold !== null && (
              <ReferenceLine
                y={threshold}
                stroke="var(--danger)"
                strokeWidth={2}
                strokeDasharray="6 3"
                label={{
                  value: `pause threshold ${percent(threshold)}`,
                  position: 'insideTopLeft',
                  fill: 'var(--text)',
                  fontSize: 12,
                }}
              />
            )}
            {markers(events, near, true)}
            {failures.rates.series.map((index) => (
              <Line
                key={index}
                dataKey={`s${index}`}
                name={names(`s${index}`)}
                type="linear"
                stroke={color(index)}
                strokeDasharray={dash(index)}
                strokeWidth={2}
                dot={{ r: 3 }}
                connectNulls={false}
                isAnimationActive={false}
              />
            ))}
          </LineChart>
        </ResponsiveContainer>
      </figure>
      <figure className="health-chart" aria-labelledby="health-failures-title">
        <figcaption id="health-failures-title">Failures per hour</figcaption>
        {failures.total === 0 ? (
          <p className="muted">No failures were reported in the last {span}.</p>
        ) : (
          <ResponsiveContainer width="100%" height={CHART_HEIGHT}>
            <BarChart data={failures.bars} margin={{ top: 16, right: 16, bottom: 0, left: 0 }}>
              <CartesianGrid stroke="var(--border)" strokeDasharray="3 3" vertical={false} />
              {timeAxis}
              <YAxis
                allowDecimals={false}
                tick={AXIS_TICK}
                stroke="var(--control-border)"
                width={48}
              />
              <Tooltip
                contentStyle={TOOLTIP_STYLE}
                cursor={{ fill: 'var(--nav-active)' }}
                labelFormatter={(time) => fullHour(Number(time) - HOUR_MS / 2)}
              />
              {markers(events, near, false)}
              <Bar
                dataKey="failures"
                name="Failures (every version)"
                fill="var(--danger)"
                maxBarSize={24}
                isAnimationActive={false}
              />
            </BarChart>
          </ResponsiveContainer>
        )}
      </figure>
      <figure className="health-chart" aria-labelledby="health-adoption-title">
        <figcaption id="health-adoption-title">
          Adoption (successful installs, cumulative)
        </figcaption>
        <ResponsiveContainer width="100%" height={CHART_HEIGHT}>
          <LineChart data={adoption.rows} margin={{ top: 16, right: 16, bottom: 0, left: 0 }}>
            <CartesianGrid stroke="var(--border)" strokeDasharray="3 3" />
            {timeAxis}
            <YAxis
              allowDecimals={false}
              tick={AXIS_TICK}
              stroke="var(--control-border)"
              width={48}
            />
            <Tooltip
              contentStyle={TOOLTIP_STYLE}
              labelFormatter={(time) => fullHour(Number(time))}
            />
            <Legend />
            {markers(events, near, false)}
            {adoption.series.map((index) => (
              <Line
                key={index}
                dataKey={`s${index}`}
                name={names(`s${index}`)}
                type="linear"
                stroke={color(index)}
                strokeDasharray={dash(index)}
                strokeWidth={2}
                dot={false}
                isAnimationActive={false}
              />
            ))}
          </LineChart>
        </ResponsiveContainer>
      </figure>
      {events.length > 0 && (
        <div className="health-events">
          <h3>Events in this window</h3>
          <ul aria-label="Events in this window">
            {events.map((event) => (
              <li key={`${event.time}-${event.label}`}>
                <span className="mono-inline">{fullHour(event.time)}</span> {event.label}
              </li>
            ))}
          </ul>
        </div>
      )}
    </div>
  );
}

/**
 * "Is this release hurting people?" answered at the top (issue 13): when the current release's
 * failure rate is above the threshold, a banner says so and offers to propose a pause, asked in a
 * dialog. The proposal needs approvals like any other statement (a pause may need fewer).
 */
function ThresholdBanner(props: {
  channel: ChannelRef;
  health: Health;
  paused: boolean;
  onProposed: () => void;
}): React.JSX.Element | null {
  const { channel, health, paused } = props;
  const [asking, setAsking] = useState(false);
  const pause = useAction(() =>
    api().rollout.change({ ...channel, change: { kind: 'pause' }, exportRequest: false }),
  );
  const current = health.versions.find((version) => version.version === health.currentVersion);
  const threshold = health.failureThreshold;
  const bound = current?.totals.failureLowerBound ?? null;
  if (current === undefined || threshold === null || bound === null || bound <= threshold) {
    return null;
  }
  const samples = current.totals.successes + current.totals.failures;
  const enough = health.minSamples === null || samples >= health.minSamples;
  return (
    <div className="banner banner-error health-banner" role="alert">
      <div>
        <p className="banner-message">
          {current.version} is failing on at least {percent(bound)} of installs, above the{' '}
          {percent(threshold)} pause threshold.
        </p>
        <p>
          {paused
            ? 'The channel is paused: no device gets it now.'
            : enough
              ? 'The server pauses the channel by itself; you can propose a pause now.'
              : `Too few outcomes for the automatic pause (${samples}/${health.minSamples ?? 0}): only a person can pause it now.`}
        </p>
        <ErrorBanner error={pause.error} onDismiss={pause.reset} />
        {pause.data !== null && (
          <ProposalResult
            key={pause.data.statementId}
            channel={channel}
            result={pause.data}
            title={`Pause rollout on ${channel.app}/${channel.channel}`}
            onPushed={props.onProposed}
          />
        )}
      </div>
      {!paused && pause.data === null && (
        <button
          type="button"
          className="button-danger"
          disabled={pause.pending}
          onClick={() => setAsking(true)}
        >
          Propose pause
        </button>
      )}
      {asking && (
        <ConfirmDialog
          title={`Propose a pause of ${channel.app}/${channel.channel}?`}
          confirmLabel="Propose pause"
          tone="danger"
          busy={pause.pending}
          onConfirm={() => {
            setAsking(false);
            void pause.run();
          }}
          onCancel={() => setAsking(false)}
        >
          <p>
            Once approved and pushed, no device gets this channel&apos;s release until a resume is
            approved and pushed too. Devices keep what they have installed.
          </p>
        </ConfirmDialog>
      )}
    </div>
  );
}

/** One channel's health over one window, from its server. */
function ChannelHealth(props: { channel: ChannelRef; hours: WindowHours }): React.JSX.Element {
  const { server, app, channel } = props.channel;
  const { hours } = props;
  const [round, setRound] = useState(0);
  const health = useQuery(`health\n${server}\n${app}\n${channel}\n${hours}`, () =>
    api().health.series({ server, app, channel, hours }),
  );
  const history = useQuery(`health-events\n${server}\n${app}\n${channel}\n${round}`, () =>
    api().history.list({ server, app, channel, limit: 500 }),
  );
  const data = health.data;
  const entries = history.data?.entries ?? NO_ENTRIES;
  const events = useMemo(() => {
    if (data === null) return [];
    const start = Date.parse(data.since);
    return eventsOf(entries, start, start + data.hours * HOUR_MS).reverse();
  }, [data, entries]);
  // Newest first: the first pause or resume says whether the channel is paused now.
  const paused =
    entries.find((entry) => entry.kind === 'pause' || entry.kind === 'resume')?.kind === 'pause';
  const anyOutcome =
    data?.versions.some((version) => version.totals.successes + version.totals.failures > 0) ??
    false;

  return (
    <div className="health-body">
      <div className="row health-refresh">
        <button
          type="button"
          onClick={() => {
            health.refetch();
            history.refetch();
          }}
          disabled={health.loading}
        >
          {health.loading ? 'Refreshing…' : 'Refresh'}
        </button>
        {data !== null && (
          <span className="muted">
            {data.failureThreshold === null || data.minSamples === null
              ? 'Automatic pause is off for this channel.'
              : `Pauses automatically when the failure rate's lower bound exceeds ${percent(data.failureThreshold)} after at least ${data.minSamples} outcomes.`}
          </span>
        )}
      </div>
      <ErrorBanner
        error={health.error}
        hint={
          health.error?.code === 'IO_ERROR'
            ? 'Health figures come from the server; they show again once it answers.'
            : undefined
        }
      />
      {health.loading && data === null && <Loading />}
      {data !== null && !anyOutcome && (
        <EmptyState title="No installs or failures reported yet">
          Devices report each install and failure to the server; the charts appear once a release of{' '}
          {app}/{channel} has outcomes.
        </EmptyState>
      )}
      {data !== null && anyOutcome && (
        <>
          <ThresholdBanner
            channel={props.channel}
            health={data}
            paused={paused}
            onProposed={() => setRound(round + 1)}
          />
          <TotalsTable health={data} />
          <Charts health={data} events={events} />
        </>
      )}
    </div>
  );
}

/** Adoption and failures per release of a channel, as its server counts them (ARCHITECTURE.md §7). */
export function HealthScreen(props: { initial: ChannelRef | null }): React.JSX.Element {
  const overview = useQuery('health-channels', () => api().apps.overview({ live: false }));
  const channels = overview.data?.channels ?? [];
  const [currentRef, setSelected] = useChosenChannel(channels, props.initial);
  const [hours, setHours] = useState<WindowHours>(168);

  return (
    <section aria-labelledby="health-title">
      <h1 id="health-title">Health</h1>
      <ErrorBanner error={overview.error} />
      {overview.loading && overview.data === null && <Loading />}
      {overview.data !== null && channels.length === 0 && (
        <EmptyState title="No channels yet">
          Connect a server and sync; the health of each channel&apos;s releases is shown here.
        </EmptyState>
      )}
      {channels.length > 0 && currentRef !== null && (
        <>
          <div className="form-row health-controls">
            <ChannelPicker channels={channels} value={currentRef} onChange={setSelected} />
            <fieldset className="health-window">
              <legend>Window</legend>
              <div className="segmented">
                {WINDOWS.map((entry) => (
                  <label key={entry.hours}>
                    <input
                      type="radio"
                      name="health-window"
                      value={entry.hours}
                      checked={hours === entry.hours}
                      onChange={() => setHours(entry.hours)}
                    />
                    <span>{entry.label}</span>
                  </label>
                ))}
              </div>
            </fieldset>
          </div>
          <ChannelHealth key={channelKey(currentRef)} channel={currentRef} hours={hours} />
        </>
      )}
    </section>
  );
}
