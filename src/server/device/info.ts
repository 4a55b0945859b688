/**
 * The plugin's "info object" (PROTOCOL.md §2), validated by hand: it arrives on every /updates
 * call, and a few `typeof` checks cost far less than a schema library on the hot path. Attacker
 * controlled: every field is checked for type and length before use; unknown fields are ignored
 * (newer plugins add fields).
 */

/** A validated info object. Optional fields are undefined when absent or null. */
export interface DeviceInfo {
  readonly platform: string;
  /** Lowercased, like the Capgo backend (`plugin_parser.ts`). */
  readonly deviceId: string;
  readonly appId: string;
  readonly versionBuild: string;
  /** The bundle the device runs as it reported it: a version, or `builtin`. */
  readonly versionName: string;
  /** `versionName` with `builtin` replaced by `versionBuild` (PROTOCOL.md §2). */
  readonly runningVersion: string;
  /** True when the device reported `builtin`. */
  readonly onBuiltin: boolean;
  readonly defaultChannel: string | undefined;
  readonly keyId: string | undefined;
  readonly pluginVersion: string | undefined;
  readonly customId: string | undefined;
  readonly isEmulator: boolean | undefined;
  readonly isProd: boolean | undefined;
}

/** A rejected input: a stable code and one sentence. */
export interface InputError {
  readonly error: string;
  readonly message: string;
}

const PLATFORMS: ReadonlySet<string> = new Set(['android', 'ios', 'electron']);
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
// Same shape as AppIdSchema (src/shared/schemas/statement.ts): apps are created with it.
const APP_ID = /^[A-Za-z][A-Za-z0-9_-]*(?:\.[A-Za-z][A-Za-z0-9_-]*)+$/;
const CHANNEL = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const MAX_APP_ID = 255;
const MAX_VERSION = 128;
const MAX_SHORT = 256;
const MAX_KEY_ID = 64;

/** Plain object check: not null, not an array. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function fail(error: string, message: string): InputError {
  return { error, message };
}

// The validators take the value, not (body, name): `body.platform` is a monomorphic property load on
// JSON.parse's objects, where `body[name]` with varying names goes megamorphic on the hot path.

/** A required string of 1..max characters; the error names the field. */
function requiredString(value: unknown, field: string, max: number): string | InputError {
  if (value === undefined || value === null || value === '') {
    return fail(`missing_${field}`, `The field "${field}" is required.`);
  }
  if (typeof value !== 'string' || value.length > max) {
    return fail(
      `invalid_${field}`,
      `The field "${field}" must be a string of at most ${max} characters.`,
    );
  }
  return value;
}

/** An optional string of at most max characters (null and absent → undefined). */
function optionalString(
  value: unknown,
  field: string,
  max: number,
): string | undefined | InputError {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || value.length > max) {
    return fail(
      `invalid_${field}`,
      `The field "${field}" must be a string of at most ${max} characters.`,
    );
  }
  return value;
}

/** An optional boolean; the query-string form ("true"/"false", PROTOCOL.md §4) is accepted. */
function optionalBoolean(value: unknown, field: string): boolean | undefined | InputError {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'boolean') return value;
  if (value === 'true') return true;
  if (value === 'false') return false;
  return fail(`invalid_${field}`, `The field "${field}" must be a boolean.`);
}

function isError(value: unknown): value is InputError {
  return typeof value === 'object' && value !== null;
}

/**
 * What the server already knows to be valid: apps and channels are created with the same shapes
 * the patterns below check, so a name the store knows needs no pattern match (the /updates path).
 */
export interface KnownNames {
  appExists(app: string): boolean;
  channel(app: string, channel: string): unknown;
}

const NOTHING_KNOWN: KnownNames = { appExists: () => false, channel: () => null };

/**
 * Validates an info object (PROTOCOL.md §2). Returns the normalized info or an InputError whose
 * code names the field (`missing_device_id`, `invalid_app_id`, …).
 * @example const info = parseDeviceInfo(JSON.parse(body)); if ('error' in info) reject(info);
 */
export function parseDeviceInfo(
  body: unknown,
  known: KnownNames = NOTHING_KNOWN,
): DeviceInfo | InputError {
  if (!isRecord(body)) return fail('invalid_body', 'The body must be a JSON object.');
  const platform = requiredString(body.platform, 'platform', MAX_SHORT);
  if (isError(platform)) return platform;
  if (!PLATFORMS.has(platform))
    return fail('invalid_platform', 'The platform must be android, ios or electron.');
  const deviceId = requiredString(body.device_id, 'device_id', 36);
  if (isError(deviceId)) return deviceId;
  if (!UUID.test(deviceId)) return fail('invalid_device_id', 'The device_id must be a UUID.');
  const appId = requiredString(body.app_id, 'app_id', MAX_APP_ID);
  if (isError(appId)) return appId;
  if (!known.appExists(appId) && !APP_ID.test(appId))
    return fail(
      'invalid_app_id',
      'The app_id must be a reverse-domain id such as com.example.app.',
    );
  return parseVersionsAndRest(body, platform, deviceId.toLowerCase(), appId, known);
}

function parseVersionsAndRest(
  body: Record<string, unknown>,
  platform: string,
  deviceId: string,
  appId: string,
  known: KnownNames,
): DeviceInfo | InputError {
  const versionBuild = requiredString(body.version_build, 'version_build', MAX_VERSION);
  if (isError(versionBuild)) return versionBuild;
  const versionNameRaw = requiredString(body.version_name, 'version_name', MAX_VERSION);
  if (isError(versionNameRaw)) return versionNameRaw;
  const defaultChannel = optionalString(body.defaultChannel, 'defaultChannel', MAX_SHORT);
  if (isError(defaultChannel)) return defaultChannel;
  const keyId = optionalString(body.key_id, 'key_id', MAX_KEY_ID);
  if (isError(keyId)) return keyId;
  const pluginVersion = optionalString(body.plugin_version, 'plugin_version', MAX_VERSION);
  if (isError(pluginVersion)) return pluginVersion;
  const customId = optionalString(body.custom_id, 'custom_id', MAX_SHORT);
  if (isError(customId)) return customId;
  const isEmulator = optionalBoolean(body.is_emulator, 'is_emulator');
  if (isError(isEmulator)) return isEmulator;
  const isProd = optionalBoolean(body.is_prod, 'is_prod');
  if (isError(isProd)) return isProd;
  const others = checkOtherStrings(body);
  if (others !== null) return others;
  const onBuiltin = versionNameRaw === 'builtin';
  return {
    platform,
    deviceId,
    appId,
    versionBuild,
    versionName: versionNameRaw,
    // plugin_parser.ts:77-79: the backend reads "builtin" as the native version.
    runningVersion: onBuiltin ? versionBuild : versionNameRaw,
    onBuiltin,
    // A name that cannot be a channel is the same as none: the app's default channel answers.
    defaultChannel:
      defaultChannel !== undefined &&
      (known.channel(appId, defaultChannel) !== null || CHANNEL.test(defaultChannel))
        ? defaultChannel
        : undefined,
    keyId: keyId === '' ? undefined : keyId,
    pluginVersion,
    customId,
    isEmulator,
    isProd,
  };
}

/** The other string fields of §2, type-checked only. */
function checkOtherStrings(body: Record<string, unknown>): InputError | null {
  const code = optionalString(body.version_code, 'version_code', MAX_SHORT);
  if (isError(code)) return code;
  const os = optionalString(body.version_os, 'version_os', MAX_SHORT);
  if (isError(os)) return os;
  const source = optionalString(body.install_source, 'install_source', MAX_SHORT);
  return isError(source) ? source : null;
}

/** True when `name` can be an Airlock channel name. */
export function isChannelName(name: string): boolean {
  return CHANNEL.test(name);
}
