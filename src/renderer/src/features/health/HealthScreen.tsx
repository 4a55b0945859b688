import { useMemo, useState } from 'react';
import {
  Bar,
  BarChart,
  CartesianGrid,
  Legend,
  Line,
  LineChart,
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
import { ErrorBanner } from '../../components/ErrorBanner';
import { api, useQuery } from '../../lib/api';

type Health = IpcResponse<'health:series'>;
type VersionHealth = Health['versions'][number];

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

/** A tick of the time axis: the time of day for a one-day window, the date otherwise. */
function tickLabel(time: number, hours: number): string {
  const date = new Date(time);
  return hours <= 24
    ? date.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' })
    : date.toLocaleDateString(undefined, { month: 'short', day: 'numeric' });
}

/** Ticks of the time axis, every 4 h (one day), 1 day (a week) or 5 days (a month). */
function timeTicks(start: number, end: number, hours: number): number[] {
  const step = (hours <= 24 ? 4 : hours <= 168 ? 24 : 120) * HOUR_MS;
  const ticks: number[] = [];
  for (let tick = end; tick >= start; tick -= step) ticks.unshift(tick);
  return ticks;
}

/** One hour of the failure bars: its time, with the date when the window spans days. */
function barLabel(time: number, hours: number): string {
  return hours <= 24 ? tickLabel(time, hours) : fullHour(time);
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

/** Failures per hour, one stacked bar segment per version; only hours with outcomes. */
function failureChart(health: Health): Chart & { total: number } {
  const series = health.versions.flatMap((version, index) =>
    version.series.some((point) => point.failures > 0) ? [index] : [],
  );
  const byHour = new Map<number, Record<string, number | string>>();
  let total = 0;
  health.versions.forEach((version, index) => {
    for (const point of version.series) {
      const hour = Date.parse(point.hour);
      const row = byHour.get(hour) ?? { hour, label: barLabel(hour, health.hours) };
      row[`s${index}`] = point.failures;
      total += point.failures;
      byHour.set(hour, row);
    }
  });
  const rows = [...byHour.entries()].sort(([a], [b]) => a - b).map(([, row]) => row);
  return { series, rows, total };
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

function Charts(props: { health: Health }): React.JSX.Element {
  const { health } = props;
  const start = Date.parse(health.since);
  const end = start + health.hours * HOUR_MS;
  const adoption = useMemo(() => adoptionChart(health, start, end), [health, start, end]);
  const failures = useMemo(() => failureChart(health), [health]);
  const span = windowLabel(health.hours);
  const names = (key: unknown): string =>
    health.versions[Number(String(key).slice(1))]?.version ?? String(key);

  if (failures.rows.length === 0) {
    return <p className="muted">No installs or failures were reported in the last {span}.</p>;
  }
  return (
    <div className="health-charts">
      <figure className="health-chart" aria-labelledby="health-adoption-title">
        <figcaption id="health-adoption-title">
          Adoption (successful installs, cumulative)
        </figcaption>
        <ResponsiveContainer width="100%" height={CHART_HEIGHT}>
          <LineChart data={adoption.rows} margin={{ top: 8, right: 16, bottom: 0, left: 0 }}>
            <CartesianGrid stroke="var(--border)" strokeDasharray="3 3" />
            <XAxis
              dataKey="time"
              type="number"
              scale="time"
              domain={[start, end]}
              ticks={timeTicks(start, end, health.hours)}
              tickFormatter={(time: number) => tickLabel(time, health.hours)}
              tick={AXIS_TICK}
              stroke="var(--border)"
            />
            <YAxis allowDecimals={false} tick={AXIS_TICK} stroke="var(--border)" width={48} />
            <Tooltip
              contentStyle={TOOLTIP_STYLE}
              labelFormatter={(time) => fullHour(Number(time))}
            />
            <Legend />
            {adoption.series.map((index) => (
              <Line
                key={index}
                dataKey={`s${index}`}
                name={names(`s${index}`)}
                type="linear"
                stroke={color(index)}
                strokeWidth={2}
                dot={false}
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
            <BarChart data={failures.rows} margin={{ top: 8, right: 16, bottom: 0, left: 0 }}>
              <CartesianGrid stroke="var(--border)" strokeDasharray="3 3" vertical={false} />
              <XAxis dataKey="label" tick={AXIS_TICK} stroke="var(--border)" />
              <YAxis allowDecimals={false} tick={AXIS_TICK} stroke="var(--border)" width={48} />
              <Tooltip
                contentStyle={TOOLTIP_STYLE}
                cursor={{ fill: 'var(--nav-active)' }}
                labelFormatter={(_label, payload) => {
                  const hour = (payload[0]?.payload as { hour?: number } | undefined)?.hour;
                  return hour === undefined ? '' : fullHour(hour);
                }}
              />
              <Legend />
              {failures.series.map((index) => (
                <Bar
                  key={index}
                  dataKey={`s${index}`}
                  name={names(`s${index}`)}
                  stackId="failures"
                  fill={color(index)}
                  maxBarSize={48}
                  isAnimationActive={false}
                />
              ))}
            </BarChart>
          </ResponsiveContainer>
        )}
      </figure>
    </div>
  );
}

/** One channel's health over one window, from its server. */
function ChannelHealth(props: { channel: ChannelRef; hours: WindowHours }): React.JSX.Element {
  const { server, app, channel } = props.channel;
  const { hours } = props;
  const health = useQuery(`health\n${server}\n${app}\n${channel}\n${hours}`, () =>
    api().health.series({ server, app, channel, hours }),
  );
  const data = health.data;
  const anyOutcome =
    data?.versions.some((version) => version.totals.successes + version.totals.failures > 0) ??
    false;

  return (
    <div className="health-body">
      <div className="row health-refresh">
        <button type="button" onClick={health.refetch} disabled={health.loading}>
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
          <TotalsTable health={data} />
          <Charts health={data} />
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
