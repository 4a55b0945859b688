import { useId, useState } from 'react';
import type { IpcRequestInput, ProposeResult } from '../../../../shared/ipc/contract';
import { SemverSchema } from '../../../../shared/schemas/statement';
import {
  ChannelPicker,
  channelKey,
  channelRef,
  type ChannelRef,
} from '../../components/ChannelPicker';
import { Loading } from '../../components/EmptyState';
import { ErrorBanner } from '../../components/ErrorBanner';
import { ProgressBar } from '../../components/ProgressBar';
import { api, useAction, useQuery, useRefreshAll } from '../../lib/api';
import { bytes } from '../../lib/format';
import { newOperationId, useProgress } from '../../lib/progress';
import { PercentField } from '../rollout/PercentField';
import { ExportRequestCheckbox } from './ExportRequestCheckbox';
import { ProposalResult } from './ProposalResult';

/**
 * The version after the highest one seen on the channel: its patch number plus one (`1.0.0` when
 * nothing was released yet). The server still decides: a release must be greater than every
 * earlier one on the channel.
 */
export function suggestVersion(versions: readonly (string | null | undefined)[]): string {
  let best: [number, number, number] | null = null;
  for (const version of versions) {
    const match = /^(\d+)\.(\d+)\.(\d+)/.exec(version ?? '');
    if (match === null) continue;
    const parts: [number, number, number] = [Number(match[1]), Number(match[2]), Number(match[3])];
    const greater =
      best === null ||
      parts[0] > best[0] ||
      (parts[0] === best[0] &&
        (parts[1] > best[1] || (parts[1] === best[1] && parts[2] > best[2])));
    if (greater) best = parts;
  }
  return best === null ? '1.0.0' : `${best[0]}.${best[1]}.${best[2] + 1}`;
}

function semverProblem(value: string): string | null {
  return SemverSchema.safeParse(value.trim()).success
    ? null
    : 'Enter a semantic version such as 1.4.2.';
}

/**
 * A semantic version input with its label, and the problem with it when there is one (marked
 * invalid once the user tried to propose).
 */
function VersionField(props: {
  label: string;
  value: string;
  error: string | null;
  tried: boolean;
  onChange: (value: string) => void;
}): React.JSX.Element {
  const id = useId();
  const errorId = useId();
  return (
    <div className="field">
      <label className="field-label" htmlFor={id}>
        {props.label}
      </label>
      <input
        id={id}
        value={props.value}
        maxLength={128}
        spellCheck={false}
        aria-invalid={props.tried && props.error !== null}
        aria-describedby={props.error === null ? undefined : errorId}
        onChange={(event) => props.onChange(event.target.value)}
      />
      {props.error !== null && (
        <span id={errorId} className="input-error">
          {props.error}
        </span>
      )}
    </div>
  );
}

interface Proposed {
  readonly channel: ChannelRef;
  readonly title: string;
  readonly result: ProposeResult;
}

/**
 * New release (ARCHITECTURE.md §7): pick the web build folder, build and encrypt it with a bundle key (with
 * progress), then propose it on a channel. Everything up to the proposal works offline; the
 * proposal waits in the outbox until the server answers, and can be exported as a signing request
 * for air-gapped approvers (ARCHITECTURE.md §5).
 */
export function NewReleaseScreen(props: {
  onProposed?: () => void;
  /** The channel to preselect (e.g. from the overview's New release button). */
  channel?: ChannelRef | null;
}): React.JSX.Element {
  const refreshAll = useRefreshAll();

  // Step 1: the web build folder.
  const [folder, setFolder] = useState<string | null>(null);
  const choose = useAction(() => api().dialogs.chooseFolder({ purpose: 'web-build' }));

  // Step 2: the bundle key, build and encrypt.
  const keys = useQuery('keys', () => api().keys.list());
  const bundleKeys = (keys.data?.keys ?? []).filter((key) => key.type === 'bundle');
  const [chosenKey, setChosenKey] = useState<string | null>(null);
  const bundleKey =
    bundleKeys.find((key) => key.keyId === chosenKey)?.keyId ?? bundleKeys[0]?.keyId ?? null;
  const [operationId, setOperationId] = useState<string | null>(null);
  const progress = useProgress(operationId);
  const build = useAction((webDir: string, bundleKeyId: string, operation: string) =>
    api().bundles.build({ webDir, bundleKeyId, operationId: operation }),
  );
  const bundle = build.data?.bundle ?? null;

  // Step 3: the proposal.
  const overview = useQuery('overview', () => api().apps.overview({ live: true }));
  const channels = overview.data?.channels ?? [];
  const [chosenChannel, setChosenChannel] = useState<string | null>(
    props.channel ? channelKey(props.channel) : null,
  );
  const row = channels.find((entry) => channelKey(entry) === chosenChannel) ?? channels[0] ?? null;
  const target = row === null ? null : channelRef(row);
  // The channel's verified history, for the version suggestion (skipped while no channel).
  const history = useQuery(target === null ? null : `release-versions ${channelKey(target)}`, () =>
    target === null
      ? Promise.reject(new Error('No channel chosen.'))
      : api().history.list({ ...target, offset: 0, limit: 500 }),
  );
  const suggested = suggestVersion([
    row?.live?.current?.version,
    row?.mirror.currentVersion,
    ...(history.data?.entries ?? [])
      .filter((entry) => entry.kind === 'release')
      .map((entry) => entry.version),
  ]);
  const [typedVersion, setTypedVersion] = useState<string | null>(null);
  const version = typedVersion ?? suggested;
  // A safe default (issue 13): a first, small rollout on production; everything elsewhere.
  const [typedPercent, setPercent] = useState<number | null | undefined>(undefined);
  const percent =
    typedPercent === undefined ? (target?.channel === 'production' ? 10 : 100) : typedPercent;
  const [minNative, setMinNative] = useState('0.0.0');
  const [notes, setNotes] = useState('');
  const [exportRequest, setExportRequest] = useState(false);
  const [tried, setTried] = useState(false);
  const propose = useAction((input: IpcRequestInput<'releases:propose'>) =>
    api().releases.propose(input),
  );
  const [proposed, setProposed] = useState<Proposed | null>(null);

  const versionError = semverProblem(version);
  const minNativeError = semverProblem(minNative);

  async function onChoose(): Promise<void> {
    const outcome = await choose.run();
    const path = outcome.data?.path ?? null;
    if (path === null) return; // cancelled: keep what was chosen before
    setFolder(path);
    build.reset();
  }

  async function onBuild(): Promise<void> {
    if (folder === null || bundleKey === null) return;
    const operation = newOperationId();
    setOperationId(operation);
    await build.run(folder, bundleKey, operation);
    setOperationId(null);
  }

  async function onPropose(event: React.FormEvent): Promise<void> {
    event.preventDefault();
    setTried(true);
    if (bundle === null || target === null || percent === null) return;
    if (versionError !== null || minNativeError !== null) return;
    const chosenVersion = version.trim();
    const outcome = await propose.run({
      ...target,
      version: chosenVersion,
      bundle: bundle.encryptedSha256,
      rolloutPercent: percent,
      minNativeVersion: minNative.trim(),
      ...(notes.trim() === '' ? {} : { notes: notes.trim() }),
      exportRequest,
    });
    if (outcome.data !== null) {
      setProposed({
        channel: target,
        title: `Release ${chosenVersion} at ${percent}% on ${target.app}/${target.channel}`,
        result: outcome.data,
      });
      refreshAll();
      props.onProposed?.();
    }
  }

  const loadingFirst =
    (keys.loading && keys.data === null) || (overview.loading && overview.data === null);

  return (
    <section aria-labelledby="new-release-title" className="new-release">
      <h1 id="new-release-title">New release</h1>
      <p className="muted">
        Build and encrypt a web build on this computer, then propose it. Nothing reaches devices
        until the channel&apos;s approvers have signed it and it is pushed.
      </p>
      <ErrorBanner error={keys.error} />
      <ErrorBanner error={overview.error} />
      {loadingFirst && <Loading />}

      <div className="card step" role="group" aria-labelledby="step-folder">
        <h2 id="step-folder">1. Web build folder</h2>
        <p className="muted">The folder your web build writes (the one with index.html).</p>
        <div className="row">
          <button type="button" onClick={() => void onChoose()} disabled={choose.pending}>
            Choose web build folder
          </button>
          {folder === null ? (
            <span className="muted">No folder chosen yet.</span>
          ) : (
            <span>
              Folder: <span className="mono">{folder}</span>
            </span>
          )}
        </div>
        <ErrorBanner error={choose.error} onDismiss={choose.reset} />
      </div>

      <div className="card step" role="group" aria-labelledby="step-bundle">
        <h2 id="step-bundle">2. Build and encrypt</h2>
        {keys.data !== null && bundleKeys.length === 0 ? (
          <p className="banner banner-info">
            There is no bundle key on this computer yet. Create one on the Keys screen (type
            &ldquo;Bundle&rdquo;), and give its public key to your server administrator; then come
            back here.
          </p>
        ) : (
          <div className="form-row">
            <label className="field grow">
              <span>Bundle key</span>
              <select
                value={bundleKey ?? ''}
                onChange={(event) => {
                  setChosenKey(event.target.value);
                  build.reset();
                }}
              >
                {bundleKeys.map((key) => (
                  <option key={key.keyId} value={key.keyId}>
                    {key.label === '' ? '(no label)' : key.label} · {key.fingerprint}
                  </option>
                ))}
              </select>
            </label>
            <button
              type="button"
              className="button-primary"
              disabled={folder === null || bundleKey === null || build.pending}
              onClick={() => void onBuild()}
            >
              {build.pending ? 'Building…' : 'Build and encrypt'}
            </button>
          </div>
        )}
        {folder === null && bundleKeys.length > 0 && (
          <p className="muted">Choose the web build folder first.</p>
        )}
        {build.pending && (
          <div>
            <p className="muted" role="status">
              Building and encrypting the bundle…
            </p>
            <ProgressBar event={progress} />
          </div>
        )}
        <ErrorBanner error={build.error} onDismiss={build.reset} />
        {bundle !== null && !build.pending && (
          <dl className="facts bundle-info">
            <dt>Encrypted SHA-256</dt>
            <dd className="mono">{bundle.encryptedSha256}</dd>
            <dt>Content SHA-256</dt>
            <dd className="mono">{bundle.sha256}</dd>
            <dt>Size</dt>
            <dd>
              {bytes(bundle.size)} zipped, {bytes(bundle.encryptedSize)} encrypted
            </dd>
            <dt>Files</dt>
            <dd>{bundle.files}</dd>
          </dl>
        )}
      </div>

      <form
        className="card step"
        aria-labelledby="step-propose"
        onSubmit={(event) => void onPropose(event)}
        noValidate
      >
        <h2 id="step-propose">3. Propose</h2>
        {bundle === null && <p className="muted">Build and encrypt a bundle first.</p>}
        {overview.data !== null && channels.length === 0 ? (
          <p className="banner banner-info">
            No channels yet. Connect a server on the Servers screen; the apps and channels its
            administrator created appear here.
          </p>
        ) : (
          <fieldset className="plain" disabled={bundle === null || propose.pending}>
            <legend className="sr-only">Release details</legend>
            <div className="form-row">
              <ChannelPicker
                className="field grow"
                channels={channels}
                value={target}
                onChange={(channel) => {
                  setChosenChannel(channelKey(channel));
                  setTypedVersion(null);
                }}
              />
              <VersionField
                label="Version"
                value={version}
                error={versionError}
                tried={tried}
                onChange={setTypedVersion}
              />
              <VersionField
                label="Minimum native version"
                value={minNative}
                error={minNativeError}
                tried={tried}
                onChange={setMinNative}
              />
            </div>
            <p className="muted hint">
              The version must be greater than every earlier release on the channel
              {typedVersion === null ? ' (suggested from its history)' : ''}. Devices whose native
              app is older than the minimum native version do not get it.
            </p>
            <PercentField label="Rollout percent" value={percent} onChange={setPercent} />
            <label className="field">
              <span>Notes (optional)</span>
              <textarea
                rows={3}
                maxLength={4096}
                value={notes}
                onChange={(event) => setNotes(event.target.value)}
              />
            </label>
            <ExportRequestCheckbox checked={exportRequest} onChange={setExportRequest} />
            <div className="row">
              <button
                type="submit"
                className="button-primary"
                disabled={
                  target === null ||
                  percent === null ||
                  versionError !== null ||
                  minNativeError !== null
                }
              >
                {propose.pending ? 'Proposing…' : 'Propose release'}
              </button>
            </div>
          </fieldset>
        )}
        <ErrorBanner error={propose.error} onDismiss={propose.reset} />
      </form>

      {proposed !== null && (
        <ProposalResult
          key={proposed.result.statementId}
          channel={proposed.channel}
          result={proposed.result}
          title={proposed.title}
        />
      )}
    </section>
  );
}
