import {
  Activity,
  Clock,
  History,
  Inbox,
  KeyRound,
  LayoutGrid,
  Loader,
  Monitor,
  Moon,
  PackagePlus,
  RefreshCw,
  ScrollText,
  Server,
  Sun,
  Unplug,
  Users,
  Wifi,
  WifiOff,
} from 'lucide-react';
import { lazy, startTransition, Suspense, useEffect, useRef, useState } from 'react';
import type { ChannelRef } from './components/ChannelPicker';
import { ErrorBanner } from './components/ErrorBanner';
import { Loading } from './components/EmptyState';
import { api, useQuery } from './lib/api';
import { useTheme } from './lib/theme';

/**
 * Each screen is its own chunk, loaded when first opened (issue 13: the renderer was one 2.1 MB
 * file, mostly the Health screen's charts). Chunks are files of the app, so `script-src 'self'`
 * holds.
 */
const ApprovalsScreen = lazy(() =>
  import('./features/approvals/ApprovalsScreen').then((m) => ({ default: m.ApprovalsScreen })),
);
const AuditScreen = lazy(() =>
  import('./features/audit/AuditScreen').then((m) => ({ default: m.AuditScreen })),
);
const HealthScreen = lazy(() =>
  import('./features/health/HealthScreen').then((m) => ({ default: m.HealthScreen })),
);
const HistoryScreen = lazy(() =>
  import('./features/history/HistoryScreen').then((m) => ({ default: m.HistoryScreen })),
);
const KeysScreen = lazy(() =>
  import('./features/keys/KeysScreen').then((m) => ({ default: m.KeysScreen })),
);
const MembersScreen = lazy(() =>
  import('./features/members/MembersScreen').then((m) => ({ default: m.MembersScreen })),
);
const OutboxScreen = lazy(() =>
  import('./features/outbox/OutboxScreen').then((m) => ({ default: m.OutboxScreen })),
);
const OverviewScreen = lazy(() =>
  import('./features/overview/OverviewScreen').then((m) => ({ default: m.OverviewScreen })),
);
const NewReleaseScreen = lazy(() =>
  import('./features/release/NewReleaseScreen').then((m) => ({ default: m.NewReleaseScreen })),
);
const ServersScreen = lazy(() =>
  import('./features/servers/ServersScreen').then((m) => ({ default: m.ServersScreen })),
);

/** The sidebar: each entry its words, with an icon beside them (hidden from screen readers). */
const SCREENS = [
  { id: 'overview', label: 'Apps and channels', icon: LayoutGrid },
  { id: 'release', label: 'New release', icon: PackagePlus },
  { id: 'approvals', label: 'Approvals', icon: Inbox },
  { id: 'history', label: 'Release history', icon: History },
  { id: 'health', label: 'Health', icon: Activity },
  { id: 'outbox', label: 'Outbox and sync', icon: RefreshCw },
  { id: 'keys', label: 'Keys', icon: KeyRound },
  { id: 'members', label: 'Members and policies', icon: Users },
  { id: 'servers', label: 'Servers', icon: Server },
  { id: 'audit', label: 'Audit log', icon: ScrollText },
] as const;

const THEME_ICON = { system: Monitor, light: Sun, dark: Moon } as const;

type ScreenId = (typeof SCREENS)[number]['id'];

/** How often the top bar asks main whether a server answers. */
const STATUS_POLL_MS = 15_000;

/** The console shell: sidebar, top bar with the online state, and one screen at a time. */
export function App(): React.JSX.Element {
  const [screen, setScreen] = useState<ScreenId | null>(null);
  /** The channel the overview last opened History or Health for (their initial pick). */
  const [focusChannel, setFocusChannel] = useState<ChannelRef | null>(null);
  const [releaseChannel, setReleaseChannel] = useState<ChannelRef | null>(null);
  const theme = useTheme();
  const status = useQuery('status', () => api().app.status());
  const keys = useQuery('keys', () => api().keys.list());
  const servers = useQuery('servers', () => api().servers.list());
  const { refetch: refetchStatus } = status;
  const heading = useRef<HTMLElement>(null);

  useEffect(() => {
    const timer = window.setInterval(refetchStatus, STATUS_POLL_MS);
    return () => window.clearInterval(timer);
  }, [refetchStatus]);

  // First run: without an identity key, open on the Keys screen.
  const identityKeys = status.data?.keys.identity ?? null;
  const shown: ScreenId | null =
    screen ?? (identityKeys === null ? null : identityKeys === 0 ? 'keys' : 'overview');

  function go(id: ScreenId): void {
    // A transition: the screen on show stays until the next one's chunk is in, so the Suspense
    // fallback never shows, and React does not hold the new screen back to pace the reveal of a
    // fallback (its 300 ms throttle, which a cold visit otherwise waits out before it even asks main).
    startTransition(() => setScreen(id));
    // Move focus to the new screen so keyboard and screen-reader users land on its content.
    window.requestAnimationFrame(() => heading.current?.focus());
  }

  const data = status.data;
  const online = data?.online ?? false;
  const airGapped = data !== null && data.servers.length === 0;
  const identities = (keys.data?.keys ?? []).filter((key) => key.type === 'identity');
  const pinned = servers.data?.servers ?? [];
  const pending = (data?.outbox.pending ?? 0) + (data?.outbox.failed ?? 0);
  const ConnectionIcon = data === null ? Loader : airGapped ? Unplug : online ? Wifi : WifiOff;
  const ThemeIcon = THEME_ICON[theme.choice];

  return (
    <div className="shell">
      <header className="topbar">
        <span className="brand">Airlock</span>
        <span
          className={`pill ${airGapped ? 'pill-neutral' : online ? 'pill-online' : 'pill-offline'}`}
          role="status"
          aria-live="polite"
          title={
            data === null
              ? undefined
              : data.servers.length === 0
                ? 'No server connected'
                : data.servers
                    .map(
                      (server) =>
                        `${server.url}: ${server.reachable ? 'reachable' : (server.error ?? 'unreachable')}`,
                    )
                    .join('\n')
          }
        >
          <ConnectionIcon className="icon" aria-hidden="true" />
          {data === null ? 'Checking…' : airGapped ? 'Air-gapped' : online ? 'Online' : 'Offline'}
        </span>
        {pinned.length > 0 && (
          <span className="topbar-fact" title={pinned.map((server) => server.url).join('\n')}>
            <span className="muted">Server</span> {pinned[0]?.url}
            {pinned.length > 1 && ` and ${pinned.length - 1} more`} ·{' '}
            <span className="muted">root</span> <span className="fp">{pinned[0]?.fingerprint}</span>
          </span>
        )}
        {pending > 0 && (
          <button type="button" className="button-quiet" onClick={() => go('outbox')}>
            <Clock className="icon" aria-hidden="true" />
            {pending} waiting in the outbox
          </button>
        )}
        {data !== null && !data.keychain.available && (
          <span className="pill pill-offline">
            <KeyRound className="icon" aria-hidden="true" />
            Keychain unavailable
          </span>
        )}
        <span className="spacer" />
        <span className="topbar-fact">
          {identities.length === 1 ? (
            <>
              <span className="muted">Signing as</span> {identities[0]?.label || 'your key'}{' '}
              <span className="fp">{identities[0]?.fingerprint}</span>
            </>
          ) : identities.length === 0 ? (
            <span className="muted">No identity key</span>
          ) : (
            <span className="muted">{identities.length} identity keys</span>
          )}
        </span>
        <button
          type="button"
          className="button-quiet"
          onClick={theme.cycle}
          aria-label={`Theme: ${theme.choice}. Change theme`}
          data-theme-choice={theme.choice}
        >
          <ThemeIcon className="icon" aria-hidden="true" />
          Theme: {theme.choice === 'system' ? 'system' : theme.choice}
        </button>
      </header>
      <nav className="sidebar" aria-label="Main">
        <ul>
          {SCREENS.map((entry) => (
            <li key={entry.id}>
              <button
                type="button"
                className="nav-item"
                aria-current={shown === entry.id ? 'page' : undefined}
                onClick={() => go(entry.id)}
              >
                <entry.icon className="icon" aria-hidden="true" />
                {entry.label}
              </button>
            </li>
          ))}
        </ul>
        {data !== null && <p className="sidebar-foot muted">v{data.appVersion}</p>}
      </nav>
      <main className="content" ref={heading} tabIndex={-1}>
        <ErrorBanner error={status.error} />
        {data !== null && !data.keychain.available && data.keychain.message !== null && (
          <p className="banner banner-info">{data.keychain.message}</p>
        )}
        <Suspense fallback={<Loading />}>
          {shown === 'overview' && (
            <OverviewScreen
              onOpenHistory={(channel) => {
                setFocusChannel(channel);
                go('history');
              }}
              onOpenHealth={(channel) => {
                setFocusChannel(channel);
                go('health');
              }}
              onNewRelease={(channel) => {
                setReleaseChannel(channel);
                go('release');
              }}
              onOpenApprovals={() => go('approvals')}
            />
          )}
          {shown === 'release' && (
            <NewReleaseScreen channel={releaseChannel} onProposed={refetchStatus} />
          )}
          {shown === 'approvals' && <ApprovalsScreen />}
          {shown === 'history' && <HistoryScreen initial={focusChannel} />}
          {shown === 'health' && <HealthScreen initial={focusChannel} />}
          {shown === 'outbox' && <OutboxScreen onChanged={refetchStatus} />}
          {shown === 'keys' && <KeysScreen onChanged={refetchStatus} />}
          {shown === 'members' && <MembersScreen />}
          {shown === 'servers' && <ServersScreen onChanged={refetchStatus} />}
          {shown === 'audit' && <AuditScreen />}
        </Suspense>
      </main>
    </div>
  );
}
