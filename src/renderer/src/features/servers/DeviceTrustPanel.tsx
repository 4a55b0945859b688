import { Download } from 'lucide-react';
import { useState } from 'react';
import { ChannelPicker, useChosenChannel } from '../../components/ChannelPicker';
import { CopyBox } from '../../components/CopyBox';
import { EmptyState } from '../../components/EmptyState';
import { ErrorBanner } from '../../components/ErrorBanner';
import { Fingerprint } from '../../components/Fingerprint';
import { api, useAction, useQuery } from '../../lib/api';
import { saveFile } from '../../lib/files';

/**
 * The trust bundle a team builds into its app (ARCHITECTURE.md §11), the same file as
 * `airlock device trust` through the same workflow: built from this machine's pinned chain,
 * checked with the phone's own verifier, with the `capacitor.config` and app snippets beside it.
 * The fingerprint is shown first: it is what people compare out of band before shipping.
 */
export function DeviceTrustPanel(): React.JSX.Element {
  const overview = useQuery('device-trust-channels', () => api().apps.overview({ live: true }));
  const channels = overview.data?.channels ?? [];
  const [chosen, setChosen] = useChosenChannel(channels, null);
  const [sign, setSign] = useState(false);
  const build = useAction((server: string, app: string, channel: string, withSignature: boolean) =>
    api().device.trust({ server, app, channel, sign: withSignature }),
  );
  const result = build.data;

  return (
    <section className="card" aria-labelledby="device-trust-title">
      <h2 id="device-trust-title">Device trust</h2>
      <p className="muted">
        Phones running the device guard install only what the trust root approved. Build the app
        with this file: it holds the verified root chain and the server&apos;s checkpoint key.
      </p>
      <ErrorBanner error={overview.error} />
      {overview.data !== null && channels.length === 0 && (
        <EmptyState title="No channels yet">
          Connect a server and sync a channel; the trust file is built for one of its apps.
        </EmptyState>
      )}
      {chosen !== null && (
        <form
          className="form-row"
          onSubmit={(event) => {
            event.preventDefault();
            void build.run(chosen.server, chosen.app, chosen.channel, sign);
          }}
        >
          <ChannelPicker channels={channels} value={chosen} onChange={setChosen} />
          <label className="checkbox">
            <input
              type="checkbox"
              checked={sign}
              onChange={(event) => setSign(event.target.checked)}
            />
            <span>Add my admin signature when the root needs it</span>
          </label>
          <button type="submit" className="button-primary" disabled={build.pending}>
            {build.pending ? 'Checking…' : 'Build trust file'}
          </button>
        </form>
      )}
      <ErrorBanner error={build.error} onDismiss={build.reset} />
      {result !== null && (
        <div role="status" aria-label="Trust file ready">
          {result.warning !== null && <p className="banner banner-info">{result.warning}</p>}
          <p>
            Trust root version {result.rootVersion}
            {result.signed ? ', signed by you just now' : ''}. Compare this fingerprint with the one
            your administrator gave you before you ship the app:
          </p>
          <Fingerprint
            fingerprint={result.fingerprint}
            copy={result.rootId}
            label="the trust root"
          />
          <div className="row">
            <button type="button" className="button-primary" onClick={() => saveFile(result.file)}>
              <Download className="icon" aria-hidden="true" />
              Save {result.file.fileName}
            </button>
          </div>
          <CopyBox label="capacitor.config.ts (plugins)" text={result.capacitorConfig} />
          <CopyBox label="App code" text={result.appCode} />
        </div>
      )}
    </section>
  );
}
