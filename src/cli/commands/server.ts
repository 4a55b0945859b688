import { existsSync, readFileSync } from 'node:fs';
import { AirlockError } from '../../core/errors';
import { formatFingerprint } from '../../core/crypto';
import {
  DEFAULT_RELEASE_RULES,
  createLineBuffer,
  describeTarget,
  initServer,
  parseDatabaseUrl,
  startServer,
} from '../../server';
import { parseCommand, required, UsageError } from '../args';
import { printJson, printLine } from '../io';

export const SERVER_USAGE = `airlock server init --data DIR --admin <identity-public-key>... [--root-threshold N]
                    [--database postgres://USER@HOST:PORT/DB] [--json]
airlock server start --data DIR [--database postgres://USER@HOST:PORT/DB] [--host 127.0.0.1] [--port 8787] [--tls-cert F --tls-key F] [--public-url URL]
                     [--trust-proxy ADDRESS|CIDR …] [--max-statement-days N] [--max-bundle-entries N]
                     [--max-bundle-unpacked-mb N] [--max-compression-ratio N]
                     [--bundles s3://BUCKET/PREFIX [--s3-endpoint URL] [--s3-region R] [--s3-virtual-hosted]
                      [--bundle-redirect-seconds N]] [--bundle-base-url URL]
  (S3 credentials: the AWS_* environment variables; the PostgreSQL password: PGPASSWORD or
   ~/.pgpass; never flags)`;

const PUBLIC_KEY_HEX = /^[0-9a-f]{64}$/;

/**
 * An identity public key on the command line (ARCHITECTURE.md §8): the 64 hex characters that
 * `keys export-public --format hex` prints, or a file holding them.
 */
function readPublicKeyArg(value: string): string {
  if (PUBLIC_KEY_HEX.test(value)) return value;
  if (existsSync(value)) {
    const text = readFileSync(value, 'utf8').trim();
    if (PUBLIC_KEY_HEX.test(text)) return text;
    throw new AirlockError(
      'KEY_INVALID',
      `${value} does not hold an identity public key (64 hex characters).`,
    );
  }
  throw new AirlockError(
    'KEY_INVALID',
    `--admin ${value} is neither 64 hex characters nor a file holding them.`,
  );
}

function parseIntFlag(
  value: string | undefined,
  flag: string,
  min: number,
  max: number,
): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new AirlockError('INVALID_ARGUMENT', `${flag} must be an integer from ${min} to ${max}.`);
  }
  return Number(value);
}

async function init(argv: string[]): Promise<void> {
  const usage = SERVER_USAGE.slice(0, SERVER_USAGE.indexOf('\nairlock server start'));
  const { values } = parseCommand(
    argv,
    {
      data: { type: 'string' },
      database: { type: 'string' },
      admin: { type: 'string', multiple: true },
      'root-threshold': { type: 'string' },
      json: { type: 'boolean' },
    },
    { min: 0, max: 0, usage },
  );
  const dataDir = required(values.data, '--data', usage);
  const admins = (values.admin as unknown as string[] | undefined) ?? [];
  if (admins.length === 0) throw new UsageError(`--admin is required\nusage: ${usage}`);
  const rootThreshold = parseIntFlag(values['root-threshold'], '--root-threshold', 1, 1000);
  const database = values.database === undefined ? undefined : parseDatabaseUrl(values.database);
  const result = await initServer({
    dataDir,
    admins: admins.map(readPublicKeyArg),
    ...(database === undefined ? {} : { database }),
    ...(rootThreshold === undefined ? {} : { rootThreshold }),
  });
  if (values.json === true) {
    printJson({
      dataDir,
      ...(database === undefined ? {} : { database: describeTarget(database) }),
      rootId: result.rootId,
      serverKeyId: result.serverKey.keyId,
    });
    return;
  }
  printLine(
    database === undefined
      ? `Initialised an Airlock server in ${dataDir}.`
      : `Initialised an Airlock server in ${describeTarget(database)}; its server key is in ${dataDir}.`,
  );
  printLine(`Trust root fingerprint: ${result.rootId}`);
  printLine(`  (consoles pin it on first contact: compare it with them out of band)`);
  printLine(`Server key: ${formatFingerprint(result.serverKey.keyId)} (${result.serverKey.keyId})`);
  if (database !== undefined) {
    printLine(
      `  (every process of this server needs ${dataDir}/server-key.json: copy it, mode 0600)`,
    );
  }
}

async function start(argv: string[]): Promise<void> {
  const usage = SERVER_USAGE.slice(SERVER_USAGE.indexOf('airlock server start'));
  const { values } = parseCommand(
    argv,
    {
      data: { type: 'string' },
      database: { type: 'string' },
      host: { type: 'string' },
      port: { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'public-url': { type: 'string' },
      'trust-proxy': { type: 'string', multiple: true },
      'max-statement-days': { type: 'string' },
      'max-bundle-entries': { type: 'string' },
      'max-bundle-unpacked-mb': { type: 'string' },
      'max-compression-ratio': { type: 'string' },
      bundles: { type: 'string' },
      's3-endpoint': { type: 'string' },
      's3-region': { type: 'string' },
      's3-virtual-hosted': { type: 'boolean' },
      'bundle-redirect-seconds': { type: 'string' },
      'bundle-base-url': { type: 'string' },
    },
    { min: 0, max: 0, usage },
  );
  const s3Flags = [
    's3-endpoint',
    's3-region',
    's3-virtual-hosted',
    'bundle-redirect-seconds',
  ] as const;
  const redirectSeconds = parseIntFlag(
    values['bundle-redirect-seconds'],
    '--bundle-redirect-seconds',
    1,
    7 * 24 * 3600,
  );
  if (values.bundles === undefined && s3Flags.some((flag) => values[flag] !== undefined)) {
    throw new UsageError(
      `--s3-* and --bundle-redirect-seconds go with --bundles s3://BUCKET/PREFIX\nusage: ${usage}`,
    );
  }
  const endpoint = values['s3-endpoint'];
  // No user:secret@ either: credentials come from the environment only (ps shows flags).
  if (endpoint !== undefined && !/^https?:\/\/[^/@]+\/?$/.test(endpoint)) {
    throw new AirlockError(
      'INVALID_ARGUMENT',
      '--s3-endpoint must be an origin such as https://minio.example:9000.',
    );
  }
  const dataDir = required(values.data, '--data', usage);
  const database = values.database === undefined ? undefined : parseDatabaseUrl(values.database);
  const trustProxy = (values['trust-proxy'] as unknown as string[] | undefined)?.flatMap((entry) =>
    entry.split(',').map((part) => part.trim()),
  );
  const port = parseIntFlag(values.port, '--port', 0, 65535);
  const certFile = values['tls-cert'];
  const keyFile = values['tls-key'];
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new UsageError(`--tls-cert and --tls-key go together\nusage: ${usage}`);
  }
  const publicUrl = values['public-url'];
  if (publicUrl !== undefined && !/^https?:\/\/[^/]+\/?$/.test(publicUrl)) {
    throw new AirlockError(
      'INVALID_ARGUMENT',
      '--public-url must be an origin such as https://updates.example.com.',
    );
  }
  const bundleBaseUrl = values['bundle-base-url'];
  if (bundleBaseUrl !== undefined && !/^https?:\/\/[^/?#]+(\/[^?#]*)?$/.test(bundleBaseUrl)) {
    throw new AirlockError(
      'INVALID_ARGUMENT',
      '--bundle-base-url must be a URL such as https://cdn.example.com (devices get <URL>/bundles/<sha256>).',
    );
  }
  const defaults = DEFAULT_RELEASE_RULES;
  const days = parseIntFlag(values['max-statement-days'], '--max-statement-days', 1, 365);
  const entries = parseIntFlag(values['max-bundle-entries'], '--max-bundle-entries', 1, 65_534);
  const unpackedMb = parseIntFlag(
    values['max-bundle-unpacked-mb'],
    '--max-bundle-unpacked-mb',
    1,
    4096,
  );
  const ratio = parseIntFlag(values['max-compression-ratio'], '--max-compression-ratio', 1, 10_000);
  const releaseRules = {
    maxStatementLifetimeMs:
      days === undefined ? defaults.maxStatementLifetimeMs : days * 24 * 60 * 60 * 1000,
    bundleLimits: {
      maxEntries: entries ?? defaults.bundleLimits.maxEntries,
      maxUncompressedBytes:
        unpackedMb === undefined
          ? defaults.bundleLimits.maxUncompressedBytes
          : unpackedMb * 1024 * 1024,
      maxCompressionRatio: ratio ?? defaults.bundleLimits.maxCompressionRatio,
    },
  };
  // One JSON line per request on stdout, written a turn of the event loop at a time.
  const accessLog = createLineBuffer((chunk) => process.stdout.write(chunk));
  const server = await startServer({
    dataDir,
    ...(database === undefined ? {} : { database }),
    ...(values.host === undefined ? {} : { host: values.host }),
    ...(port === undefined ? {} : { port }),
    ...(certFile === undefined || keyFile === undefined
      ? {}
      : { tls: { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') } }),
    ...(publicUrl === undefined ? {} : { publicUrl: publicUrl.replace(/\/$/, '') }),
    ...(trustProxy === undefined ? {} : { trustProxy }),
    releaseRules,
    logger: accessLog.line,
    ...(bundleBaseUrl === undefined ? {} : { bundleBaseUrl: bundleBaseUrl.replace(/\/+$/, '') }),
    ...(values.bundles === undefined
      ? {}
      : {
          bundles: {
            url: values.bundles,
            ...(endpoint === undefined ? {} : { endpoint: endpoint.replace(/\/$/, '') }),
            ...(values['s3-region'] === undefined ? {} : { region: values['s3-region'] }),
            // Path-style (MinIO, Ceph RGW) unless asked otherwise, where an endpoint is named.
            pathStyle: values['s3-virtual-hosted'] !== true && endpoint !== undefined,
            ...(redirectSeconds === undefined ? {} : { redirectSeconds }),
          },
        }),
  });
  // stdout carries JSON lines only (the access log): the start is one of them.
  accessLog.line(
    JSON.stringify({
      time: new Date().toISOString(),
      event: 'listening',
      url: server.url,
      publicUrl: publicUrl?.replace(/\/$/, '') ?? server.url,
      database: database === undefined ? 'sqlite' : describeTarget(database),
      bundles: server.store.blobs.location,
      maxConnections: server.connectionLimits.maxConnections,
      perAddress: server.connectionLimits.perAddress,
    }),
  );
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      void server.close().then(() => {
        accessLog.flush();
        resolve();
      });
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}

/** `airlock server init|start` (ARCHITECTURE.md §8). */
export async function serverCommand(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'init':
      return init(rest);
    case 'start':
      return start(rest);
    default:
      throw new UsageError(`usage:\n${SERVER_USAGE}`);
  }
}
