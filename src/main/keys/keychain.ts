import { AirlockError } from '../../core/errors';

/**
 * The OS keychain, through @github/keytar (ARCHITECTURE.md §2): macOS Keychain, Windows Credential
 * Manager, or the Secret Service (gnome-keyring, KWallet) on a Linux D-Bus session.
 *
 * This file must not import electron: the CLI and the tests use it under plain Node.
 * There is no fallback to a file, ever: when no keychain answers, every call fails with
 * KEYCHAIN_UNAVAILABLE and one sentence that says so (ARCHITECTURE.md §2, ARCHITECTURE.md rule 10).
 */

/** A keychain scoped to one service name (`airlock`). Secrets are opaque strings. */
export interface Keychain {
  /** The secret stored under `account`, or null when there is none. */
  get(account: string): Promise<string | null>;
  /** Stores `secret` under `account`, replacing any previous one. */
  set(account: string, secret: string): Promise<void>;
  /** Removes `account`; false when there was nothing to remove. */
  delete(account: string): Promise<boolean>;
  /** Every account of this service with its secret. */
  list(): Promise<{ account: string; secret: string }[]>;
}

/** The part of keytar's API Airlock uses. */
export interface KeytarApi {
  getPassword(service: string, account: string): Promise<string | null>;
  setPassword(service: string, account: string, password: string): Promise<void>;
  deletePassword(service: string, account: string): Promise<boolean>;
  findCredentials(service: string): Promise<{ account: string; password: string }[]>;
}

/** Options for `createOsKeychain`; the defaults are right outside tests. */
export interface OsKeychainOptions {
  /** How long one keychain call may take before it counts as unreachable. Default 10 000 ms. */
  readonly timeoutMs?: number;
  /** Loads keytar; tests replace it to simulate a native module that fails to load. */
  readonly loadKeytar?: () => Promise<KeytarApi>;
}

/**
 * A Secret Service that owns its D-Bus name but never answers makes libsecret wait 25 s per call
 * (we measured 50 s for one findCredentials). After this long we call the keychain unreachable.
 */
export const KEYCHAIN_TIMEOUT_MS = 10_000;

const MAX_ACCOUNT_CHARS = 256;

async function loadKeytarModule(): Promise<KeytarApi> {
  // Lazy, so that `airlock --help` never loads the native module, and so that a missing or broken
  // native module becomes KEYCHAIN_UNAVAILABLE at the first key operation instead of a crash.
  const mod = (await import('@github/keytar')) as unknown as Partial<KeytarApi> & {
    default?: Partial<KeytarApi>;
  };
  // keytar is CommonJS: under Node's ESM loader only `default` carries every function.
  const api = mod.default ?? mod;
  if (
    typeof api.getPassword !== 'function' ||
    typeof api.setPassword !== 'function' ||
    typeof api.deletePassword !== 'function' ||
    typeof api.findCredentials !== 'function'
  ) {
    throw new Error('keytar module has an unexpected shape');
  }
  return api as KeytarApi;
}

function whatIsNeeded(): string {
  switch (process.platform) {
    case 'darwin':
      return 'Airlock needs the macOS Keychain to store private keys, and will not fall back to files.';
    case 'win32':
      return 'Airlock needs the Windows Credential Manager to store private keys, and will not fall back to files.';
    default:
      return 'Airlock needs the Secret Service (gnome-keyring or KWallet) on a D-Bus session to store private keys, and will not fall back to files.';
  }
}

class KeychainTimeout extends Error {
  readonly ms: number;

  constructor(operation: string, ms: number) {
    super(`keychain ${operation} did not settle within ${ms} ms`);
    this.name = 'KeychainTimeout';
    this.ms = ms;
  }
}

class KeytarLoadError extends Error {
  constructor(cause: unknown) {
    super('could not load @github/keytar', { cause });
    this.name = 'KeytarLoadError';
  }
}

/**
 * A short, fixed hint for a known failure. Keytar's own text is never copied into the sentence:
 * the hint names the situation, and the original error stays in `cause` for debugging.
 */
function reasonHint(error: unknown): string {
  if (error instanceof KeychainTimeout) {
    return `the keychain did not answer within ${Math.round(error.ms / 100) / 10} s`;
  }
  if (error instanceof KeytarLoadError) return "keytar's native module could not be loaded";
  const text = error instanceof Error ? error.message : String(error);
  if (/autolaunch D-Bus|DBUS_SESSION_BUS_ADDRESS/i.test(text)) {
    return 'no D-Bus session bus: DBUS_SESSION_BUS_ADDRESS is not set';
  }
  if (/Could not connect|Connection refused|No such file or directory/i.test(text)) {
    return 'the D-Bus session bus in DBUS_SESSION_BUS_ADDRESS cannot be reached';
  }
  if (/ServiceUnknown|not provided by any \.service files|NameHasNoOwner/i.test(text)) {
    return 'no Secret Service is running on the D-Bus session';
  }
  if (/collection\/login|Object does not exist at path/i.test(text)) {
    return 'the Secret Service has no default keyring and could not prompt to create one';
  }
  if (/locked|prompt|dismiss|cancel/i.test(text)) {
    return 'the keyring is locked and was not unlocked';
  }
  if (/Timeout was reached|timed out/i.test(text)) {
    return 'the Secret Service did not answer in time';
  }
  if (
    /Failed to load keytar native addon|Cannot find module|ERR_MODULE_NOT_FOUND|ERR_DLOPEN_FAILED/i.test(
      text,
    )
  ) {
    return "keytar's native module could not be loaded";
  }
  return '';
}

/** The one sentence for every keychain failure (ARCHITECTURE.md §2: "says so in one clear sentence"). */
function unavailable(error: unknown): AirlockError<'KEYCHAIN_UNAVAILABLE'> {
  if (error instanceof AirlockError && error.code === 'KEYCHAIN_UNAVAILABLE') {
    return error as AirlockError<'KEYCHAIN_UNAVAILABLE'>;
  }
  const hint = reasonHint(error);
  const opening =
    hint === '' ? 'No OS keychain is reachable' : `No OS keychain is reachable (${hint})`;
  return new AirlockError('KEYCHAIN_UNAVAILABLE', `${opening}: ${whatIsNeeded()}`, {
    cause: error,
  });
}

function checkAccount(account: string): void {
  if (typeof account !== 'string' || account.length === 0 || account.length > MAX_ACCOUNT_CHARS) {
    throw new AirlockError(
      'INVALID_INPUT',
      `A keychain account name is 1 to ${MAX_ACCOUNT_CHARS} characters.`,
    );
  }
}

/**
 * The OS keychain for `service`, through @github/keytar loaded on first use.
 * Every failure of the keychain itself (native module missing, no D-Bus session, no Secret Service,
 * a locked keyring, no answer within 10 s) is AirlockError KEYCHAIN_UNAVAILABLE with one sentence
 * and the original error as `cause`.
 *
 * A call that timed out cannot be cancelled: it keeps one libuv thread until libsecret gives up
 * (25 s per D-Bus call), and the process cannot exit before then, not even through `process.exit`
 * (libuv joins its threads at exit). The error itself arrives on time.
 * @example const secret = await createOsKeychain().get('identity:3b6a…');
 */
export function createOsKeychain(service = 'airlock', options: OsKeychainOptions = {}): Keychain {
  if (service.length === 0)
    throw new AirlockError('INVALID_INPUT', 'A keychain service name is required.');
  const timeoutMs = options.timeoutMs ?? KEYCHAIN_TIMEOUT_MS;
  const load = options.loadKeytar ?? loadKeytarModule;
  let loaded: Promise<KeytarApi> | undefined;

  function keytar(): Promise<KeytarApi> {
    // Keep a successful load; forget a failed one so that a later call may try again.
    loaded ??= load().catch((error: unknown) => {
      loaded = undefined;
      throw new KeytarLoadError(error);
    });
    return loaded;
  }

  /** Runs one keytar call with the hang guard; any failure becomes KEYCHAIN_UNAVAILABLE. */
  async function call<T>(operation: string, run: (api: KeytarApi) => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new KeychainTimeout(operation, timeoutMs)), timeoutMs);
    });
    try {
      return await Promise.race([keytar().then(run), deadline]);
    } catch (error) {
      throw unavailable(error);
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    async get(account: string): Promise<string | null> {
      checkAccount(account);
      return await call('get', (api) => api.getPassword(service, account));
    },
    async set(account: string, secret: string): Promise<void> {
      checkAccount(account);
      if (typeof secret !== 'string' || secret.length === 0) {
        throw new AirlockError('INVALID_INPUT', 'A keychain secret must not be empty.');
      }
      await call('set', (api) => api.setPassword(service, account, secret));
    },
    async delete(account: string): Promise<boolean> {
      checkAccount(account);
      return await call('delete', (api) => api.deletePassword(service, account));
    },
    async list(): Promise<{ account: string; secret: string }[]> {
      const found = await call('list', (api) => api.findCredentials(service));
      return found.map(({ account, password }) => ({ account, secret: password }));
    },
  };
}
