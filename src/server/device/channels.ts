import type { DeviceFacingChannel, DeviceStore } from '../store/device-store';

/**
 * The channel that answers a device (ARCHITECTURE.md §6): the `defaultChannel` it sends (its config value,
 * or the override `setChannel` stored on the phone; PROTOCOL.md §2, §4) when that channel exists
 * on the app, else the app's default channel. Null when the app has no channel at all.
 * @example const channel = resolveChannel(store, info.appId, info.defaultChannel);
 */
export function resolveChannel(
  store: DeviceStore,
  app: string,
  requested: string | undefined,
): DeviceFacingChannel | null {
  if (requested !== undefined) {
    const chosen = store.channel(app, requested);
    if (chosen !== null) return chosen;
  }
  const fallback = store.defaultChannel(app);
  return fallback === null ? null : store.channel(app, fallback);
}
