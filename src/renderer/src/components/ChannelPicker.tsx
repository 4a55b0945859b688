import { useState } from 'react';

/** One channel of one app on one server: what the screens open and act on. */
export interface ChannelRef {
  readonly server: string;
  readonly app: string;
  readonly channel: string;
}

/** A string that names the channel (React keys, option values, cache keys). */
export function channelKey(ref: ChannelRef): string {
  return `${ref.server}\n${ref.app}\n${ref.channel}`;
}

/** The reference alone, without the rest of a row (e.g. of `apps:overview`). */
export function channelRef(row: ChannelRef): ChannelRef {
  return { server: row.server, app: row.app, channel: row.channel };
}

/**
 * The channel a screen shows: the one picked last, else `initial` (the channel the screen was
 * opened for), else the first of `channels`. Returns it (null while there is none) and the setter
 * for `ChannelPicker`'s `onChange`.
 */
export function useChosenChannel(
  channels: readonly ChannelRef[],
  initial: ChannelRef | null,
): [ChannelRef | null, (channel: ChannelRef) => void] {
  const [selected, setSelected] = useState<ChannelRef | null>(initial);
  const current = selected ?? channels[0] ?? null;
  return [current === null ? null : channelRef(current), setSelected];
}

/**
 * A labelled select ("Channel") of `channels`, each shown as `app/channel (server)`. Hands the
 * chosen channel to `onChange`.
 */
export function ChannelPicker(props: {
  channels: readonly ChannelRef[];
  value: ChannelRef | null;
  onChange: (channel: ChannelRef) => void;
  /** The label's class (default `field`). */
  className?: string;
}): React.JSX.Element {
  const { channels, onChange } = props;
  return (
    <label className={props.className ?? 'field'}>
      <span>Channel</span>
      <select
        value={props.value === null ? '' : channelKey(props.value)}
        onChange={(event) => {
          const found = channels.find((row) => channelKey(row) === event.target.value);
          if (found !== undefined) onChange(channelRef(found));
        }}
      >
        {channels.map((row) => (
          <option key={channelKey(row)} value={channelKey(row)}>
            {row.app}/{row.channel} ({row.server})
          </option>
        ))}
      </select>
    </label>
  );
}
