import { createHash } from 'node:crypto';
import * as os from 'node:os';
import * as path from 'node:path';
import { DEFAULT_REDACT_FIELDS, validateObjectKeyTemplate } from '@zoom-pipeline/canonical';
import type { AccountsSettings, AppConfig, BusSettings, DedupStoreSettings, ObjectStoreSettings } from './app-config';
import { isError, parseBool, parseDuration, parseList, parsePort, parseSize } from './parse';

/** Every problem found, one per variable, by name and never with its value (values can be secrets). */
export class ConfigError extends Error {
  readonly code = 'config_invalid';
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/**
 * SPEC §6's default plus `-{file_id}`: Zoom's speaker, gallery and shared-screen MP4s of one segment share
 * file_type and recording_start, so the SPEC pattern alone would make one view overwrite another.
 */
export const DEFAULT_OBJECT_KEY_TEMPLATE =
  '{account_id}/{yyyy}/{mm}/{dd}/{meeting_id}-{topic}/{recording_start}-{file_type}-{file_id}.{ext}';
/** Zoom's last retry comes ~85 min after the first attempt (docs/ZOOM-FACTS.md §3). */
const ZOOM_RETRY_SPAN_MS = 85 * 60_000;

type Env = Record<string, string | undefined>;

/** Per-app secrets: ZOOM_WEBHOOK_SECRET_TOKEN_<APP> serves POST /webhooks/zoom/<app> (app lowercased, `_` → `-`). */
const APP_SECRET_PREFIX = 'ZOOM_WEBHOOK_SECRET_TOKEN_';

export interface LoadConfigOptions {
  /**
   * Whether this process serves webhooks and so needs ZOOM_WEBHOOK_SECRET_TOKEN (dedup and uploader do not). Default
   * true.
   */
  requireWebhookSecrets?: boolean;
  /**
   * Whether this process is the accounts service and so needs ACCOUNTS_ENCRYPTION_KEY and its companions. Default
   * false.
   */
  requireAccounts?: boolean;
  cwd?: string;
}

export function loadConfig(env: Env, options: LoadConfigOptions = {}): AppConfig {
  const problems: string[] = [];
  const cwd = options.cwd ?? process.cwd();

  const get = (name: string): string | undefined => {
    const v = env[name];
    return v === undefined || v.trim() === '' ? undefined : v;
  };
  function read<T>(name: string, parser: (t: string) => T | { error: string }, fallback: T): T {
    const raw = get(name);
    if (raw === undefined) return fallback;
    const v = parser(raw);
    if (isError(v)) {
      problems.push(`${name}: ${v.error}`);
      return fallback;
    }
    return v as T;
  }

  // Secrets per app
  // No prototype: app names come from URLs, and `constructor` or `__proto__` must find nothing here.
  const secretsByApp = Object.create(null) as Record<string, string[]>;
  const defaultSecrets = get('ZOOM_WEBHOOK_SECRET_TOKEN');
  if (defaultSecrets !== undefined) secretsByApp.default = parseList(defaultSecrets);
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(APP_SECRET_PREFIX) || value === undefined || value.trim() === '') continue;
    const app = name.slice(APP_SECRET_PREFIX.length).toLowerCase().replace(/_/g, '-');
    if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(app)) {
      problems.push(`${name}: the app name after ${APP_SECRET_PREFIX} must be letters, digits and _`);
      continue;
    }
    secretsByApp[app] = parseList(value);
  }
  if (options.requireWebhookSecrets !== false && Object.keys(secretsByApp).length === 0) {
    problems.push(
      'ZOOM_WEBHOOK_SECRET_TOKEN: required: the Secret Token of your Zoom app (comma-separated for rotation)',
    );
  }
  for (const [app, list] of Object.entries(secretsByApp)) {
    const setting = app === 'default' ? 'ZOOM_WEBHOOK_SECRET_TOKEN' : APP_SECRET_PREFIX + app.toUpperCase();
    if (list.length === 0) problems.push(`${setting}: has no non-empty token`);
  }

  const dataDir = path.resolve(cwd, get('DATA_DIR') ?? './data');
  const dedupWindowMs = read('DEDUP_WINDOW', parseDuration, 24 * 3_600_000);
  const signatureToleranceMs = read('SIGNATURE_TOLERANCE', parseDuration, 2 * 3_600_000);
  const ackDeadlineMs = read('ACK_DEADLINE', parseDuration, 2_500);
  if (dedupWindowMs <= ZOOM_RETRY_SPAN_MS) {
    problems.push("DEDUP_WINDOW: must exceed Zoom's 85-minute retry span, or retries become new events");
  }
  if (signatureToleranceMs >= dedupWindowMs) {
    problems.push(
      'SIGNATURE_TOLERANCE: must be below DEDUP_WINDOW, or a replay inside the ' +
        'tolerance could become a second canonical event',
    );
  }
  if (ackDeadlineMs >= 3_000) problems.push("ACK_DEADLINE: must be below Zoom's 3 s timeout");

  const brokers = get('KAFKA_BROKERS');
  const kafkaClientParser = (t: string): 'kafkajs' | 'platformatic' | { error: string } =>
    t === 'kafkajs' || t === 'platformatic' ? t : { error: "must be 'kafkajs' or 'platformatic'" };
  // The client of consumers and their transactions (dedup's exactly-once path): platformatic, whose commits are
  // fenced by the group generation (KIP-447); kafkajs's are not (docs/ARCHITECTURE.md, "The two Kafka clients").
  const kafkaClient = read('KAFKA_CLIENT', kafkaClientParser, 'platformatic');
  const bus: BusSettings = brokers
    ? {
        kind: 'kafka',
        brokers: parseList(brokers),
        clientId: get('KAFKA_CLIENT_ID') ?? 'zoom-pipeline',
        publishTimeoutMs: ackDeadlineMs,
        client: kafkaClient,
        // The client of the publish producer (the ingress's ack path). platformatic: about half kafkajs's CPU per
        // message and +19% ingress throughput, same guarantees (BENCHMARKS.md). Defaults to KAFKA_CLIENT, so
        // KAFKA_CLIENT=kafkajs puts the whole adapter back on kafkajs.
        publishClient: read('KAFKA_PUBLISH_CLIENT', kafkaClientParser, kafkaClient),
        // Several pipelines (or test runs) on one cluster keep their consumer groups apart.
        groupPrefix: get('KAFKA_GROUP_PREFIX') ?? '',
      }
    : { kind: 'file', dir: path.join(dataDir, 'log') };
  const redisUrl = get('REDIS_URL');
  if (redisUrl !== undefined && !/^rediss?:\/\//.test(redisUrl))
    problems.push('REDIS_URL: must start with redis:// or rediss://');
  const dedupStore: DedupStoreSettings = redisUrl
    ? { kind: 'redis', url: redisUrl, keyPrefix: get('REDIS_KEY_PREFIX') ?? 'zp:' }
    : { kind: 'embedded', dir: path.join(dataDir, 'dedup') };

  const bucket = get('S3_BUCKET');
  const partSizeBytes = read('S3_PART_SIZE', parseSize, 16 * 1024 ** 2);
  if (partSizeBytes < 5 * 1024 ** 2) problems.push('S3_PART_SIZE: must be at least 5 MiB (S3 minimum part size)');
  const objectStore: ObjectStoreSettings = bucket
    ? {
        kind: 's3',
        bucket,
        endpoint: get('S3_ENDPOINT'),
        region: get('S3_REGION') ?? get('AWS_REGION') ?? 'us-east-1',
        forcePathStyle: read('S3_FORCE_PATH_STYLE', parseBool, false),
        partSizeBytes,
        queueSize: read('S3_QUEUE_SIZE', (t) => positiveInt(t, 64), 4),
        createBucketIfMissing: read('S3_CREATE_BUCKET', parseBool, false),
        uploadMode: read(
          'S3_UPLOAD_MODE',
          (t) => (t === 'stream' || t === 'buffered' ? t : { error: "must be 'stream' or 'buffered'" }),
          'stream',
        ),
        sha256Location: sha256Location(get('S3_SHA256'), read('S3_SHA256_METADATA', parseBool, undefined), problems),
      }
    : { kind: 'filesystem', dir: path.join(dataDir, 'objects') };

  const accountId = get('ZOOM_ACCOUNT_ID');
  const clientId = get('ZOOM_CLIENT_ID');
  const clientSecret = get('ZOOM_CLIENT_SECRET');
  const s2sCount = [accountId, clientId, clientSecret].filter((v) => v !== undefined).length;
  if (s2sCount > 0 && s2sCount < 3) {
    problems.push(
      'ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID, ZOOM_CLIENT_SECRET: set all three for Server-to-Server OAuth, or none',
    );
  }
  const allowedHosts = parseList(get('ZOOM_DOWNLOAD_ALLOWED_HOSTS') ?? 'zoom.us,*.zoom.us');
  for (const h of allowedHosts) {
    if (!/^(\*\.)?[a-z0-9.-]+$|^\[[0-9a-f:]+\]$/i.test(h))
      problems.push(
        'ZOOM_DOWNLOAD_ALLOWED_HOSTS: each entry must be a host name, *.domain, or an IP address (no scheme, no port)',
      );
  }

  const objectKeyTemplate = get('OBJECT_KEY_TEMPLATE') ?? DEFAULT_OBJECT_KEY_TEMPLATE;
  for (const p of validateObjectKeyTemplate(objectKeyTemplate)) problems.push(`OBJECT_KEY_TEMPLATE: ${p}`);

  // Least privilege on zoom.events (every internal consumer reads it): credentials are redacted unless the operator
  // names other fields, or `none`.
  const redactSetting = get('EVENTS_REDACT_FIELDS');
  const redactFields =
    redactSetting === undefined
      ? [...DEFAULT_REDACT_FIELDS]
      : redactSetting.trim().toLowerCase() === 'none'
        ? []
        : parseList(redactSetting);
  for (const f of redactFields) {
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(f))
      problems.push(
        'EVENTS_REDACT_FIELDS: each entry must be a JSON member name (letters, digits, _ . -), or the single word none',
      );
  }

  // RTMS connector: its own app credentials, else the Zoom app's (one app usually does both).
  const rtmsClientId = get('RTMS_CLIENT_ID') ?? clientId;
  const rtmsClientSecret =
    get('RTMS_CLIENT_SECRET') ?? (get('RTMS_CLIENT_ID') === undefined ? clientSecret : undefined);
  if ((get('RTMS_CLIENT_ID') === undefined) !== (get('RTMS_CLIENT_SECRET') === undefined)) {
    problems.push(
      'RTMS_CLIENT_ID, RTMS_CLIENT_SECRET: set both, or neither (then ZOOM_CLIENT_ID/ZOOM_CLIENT_SECRET are used)',
    );
  }
  const rtmsMedia = read('RTMS_MEDIA', parseRtmsMedia, ['audio', 'transcript'] as RtmsMedia[]);
  const rtmsLeaseTtlMs = read('RTMS_LEASE_TTL', parseDuration, 15_000);
  if (rtmsLeaseTtlMs < 1_000)
    problems.push('RTMS_LEASE_TTL: must be at least 1s (the lease is renewed three times per TTL)');
  const rtmsSegmentMs = read('RTMS_AUDIO_SEGMENT', parseDuration, 60_000);
  if (rtmsSegmentMs < 100 || rtmsSegmentMs > 3_600_000) problems.push('RTMS_AUDIO_SEGMENT: must be from 100ms to 1h');
  // RECONCILE_INTERVAL=off (or 0) keeps the reconciler on demand only (CLI, POST /reconcile/runs).
  const intervalRaw = get('RECONCILE_INTERVAL');
  const reconcileIntervalMs =
    intervalRaw !== undefined && ['off', '0'].includes(intervalRaw.trim().toLowerCase())
      ? 0
      : read('RECONCILE_INTERVAL', parseDuration, 3_600_000);
  if (reconcileIntervalMs !== 0 && reconcileIntervalMs < 60_000)
    problems.push('RECONCILE_INTERVAL: must be at least 1m (or off)');
  const reconcileLookbackMs = read('RECONCILE_LOOKBACK', parseDuration, 48 * 3_600_000);
  if (reconcileLookbackMs < 3_600_000) problems.push('RECONCILE_LOOKBACK: must be at least 1h');
  const afterUpload = read(
    'ZOOM_AFTER_UPLOAD',
    (t) => (t === 'keep' || t === 'trash' ? t : { error: "must be 'keep' or 'trash'" }),
    'keep' as 'keep' | 'trash',
  );
  const apiUrl = get('ZOOM_API_URL') ?? 'https://api.zoom.us/v2';
  if (!/^https?:\/\/[^\s]+$/.test(apiUrl)) problems.push('ZOOM_API_URL: must be an http(s) URL');

  const logLevel = (get('LOG_LEVEL') ?? 'info').toLowerCase();
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel)) {
    problems.push('LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent');
  }

  const accounts = readAccounts(get, read, problems);
  if (
    options.requireAccounts === true &&
    accounts === undefined &&
    get('ACCOUNTS_API_TOKEN') === undefined &&
    get('ZOOM_OAUTH_CLIENT_ID') === undefined
  ) {
    problems.push(
      'ACCOUNTS_ENCRYPTION_KEY: required by the accounts service (32 random ' +
        'bytes in base64, e.g. k1:$(openssl rand -base64 32))',
    );
  }

  const config: AppConfig = {
    port: read('PORT', parsePort, 8080),
    host: get('HOST') ?? '0.0.0.0',
    dataDir,
    logLevel: logLevel as AppConfig['logLevel'],
    shutdownDelayMs: read('SHUTDOWN_DELAY', parseDuration, 0),
    logClientIps: read('LOG_CLIENT_IPS', parseBool, false),
    trustProxy: read('TRUST_PROXY', parseBool, false),
    webhook: {
      secretsByApp,
      signatureToleranceMs,
      maxBodyBytes: read('MAX_BODY_BYTES', parseSize, 512 * 1024),
      ackDeadlineMs,
    },
    dedupWindowMs,
    bus,
    dedupStore,
    objectStore,
    download: {
      allowedHosts,
      s2s: accountId && clientId && clientSecret ? { accountId, clientId, clientSecret } : undefined,
      oauthUrl: get('ZOOM_OAUTH_URL') ?? 'https://zoom.us/oauth/token',
      maxAttempts: read('DOWNLOAD_MAX_ATTEMPTS', (t) => positiveInt(t, 20), 5),
    },
    upload: {
      fileTypes: get('UPLOAD_FILE_TYPES'),
      objectKeyTemplate,
      concurrency: read('UPLOAD_CONCURRENCY', (t) => positiveInt(t, 64), 2),
      leaseTtlMs: read('UPLOAD_LEASE_TTL', parseDuration, 60_000),
      retryBudgetMs: read('UPLOAD_RETRY_BUDGET', parseDuration, 30 * 60_000),
      retryMaxDelayMs: read('UPLOAD_RETRY_MAX_DELAY', parseDuration, 5 * 60_000),
    },
    events: { redactFields },
    ...(accounts ? { accounts } : {}),
    rtms: {
      credentials:
        rtmsClientId && rtmsClientSecret ? { clientId: rtmsClientId, clientSecret: rtmsClientSecret } : undefined,
      media: rtmsMedia,
      leaseTtlMs: rtmsLeaseTtlMs,
      audioSegmentMs: rtmsSegmentMs,
      reconnectMaxDelayMs: read('RTMS_RECONNECT_MAX_DELAY', parseDuration, 30_000),
      maxStreamAgeMs: read('RTMS_MAX_STREAM_AGE', parseDuration, 24 * 3_600_000),
      instanceId: get('RTMS_INSTANCE_ID') ?? `${os.hostname()}-${process.pid}`,
    },
    reconcile: {
      intervalMs: reconcileIntervalMs,
      lookbackMs: reconcileLookbackMs,
      apiUrl,
      apiRequestsPerSecond: read('ZOOM_API_RATE', (t) => positiveInt(t, 1000), 5),
      ledgerTtlMs: read('RECONCILE_LEDGER_TTL', parseDuration, 400 * 86_400_000),
      users: parseList(get('RECONCILE_USERS') ?? ''),
      afterUpload,
      adminToken: get('RECONCILE_ADMIN_TOKEN'),
    },
    attendance: {
      store: redisUrl
        ? { kind: 'redis', url: redisUrl, keyPrefix: get('REDIS_KEY_PREFIX') ?? 'zp:' }
        : { kind: 'embedded', dir: path.join(dataDir, 'attendance') },
      graceMs: read('ATTENDANCE_GRACE', parseDuration, 120_000),
      endStepBytes: read(
        'ATTENDANCE_END_STEP_BYTES',
        (t) => {
          const n = parseSize(t);
          return typeof n === 'number' && (n < 1024 || n > 768 * 1024)
            ? { error: 'must be between 1KiB and 768KiB (Kafka refuses record batches over 1 MiB)' }
            : n;
        },
        256 * 1024,
      ),
      apiToken: get('ATTENDANCE_API_TOKEN'),
    },
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return deepFreeze(config);
}

/** `kid:base64` (or bare base64: the id is then derived from the key) of 32 bytes. */
function parseKey(text: string): { id: string; key: Buffer } | { error: string } {
  const m = /^(?:([A-Za-z0-9_-]{1,32}):)?([A-Za-z0-9+/=_-]+)$/.exec(text.trim());
  const key = m ? Buffer.from(m[2], 'base64') : Buffer.alloc(0);
  if (!m || key.length !== 32)
    return {
      error:
        'must be 32 random bytes in base64, optionally prefixed with a key id ' +
        'and ":" (e.g. k2:...; openssl rand -base64 32)',
    };
  return { id: m[1] ?? createHash('sha256').update(key).digest('hex').slice(0, 8), key };
}

/** The accounts settings, when ACCOUNTS_ENCRYPTION_KEY turns the feature on; every missing companion is a problem. */
function readAccounts(
  get: (name: string) => string | undefined,
  read: <T>(name: string, parser: (t: string) => T | { error: string }, fallback: T) => T,
  problems: string[],
): AccountsSettings | undefined {
  const keyText = get('ACCOUNTS_ENCRYPTION_KEY');
  if (keyText === undefined) {
    if (get('ACCOUNTS_API_TOKEN') !== undefined || get('ZOOM_OAUTH_CLIENT_ID') !== undefined) {
      problems.push(
        'ACCOUNTS_ENCRYPTION_KEY: required when ACCOUNTS_API_TOKEN or ' +
          'ZOOM_OAUTH_CLIENT_ID is set (the accounts feature stores tokens encrypted)',
      );
    }
    return undefined;
  }
  const required = (name: string, why: string): string => {
    const v = get(name);
    if (v === undefined) problems.push(`${name}: required with ACCOUNTS_ENCRYPTION_KEY: ${why}`);
    return v ?? '';
  };
  const key = parseKey(keyText);
  if (isError(key)) problems.push(`ACCOUNTS_ENCRYPTION_KEY: ${key.error}`);
  const previousKeys: Array<{ id: string; key: Buffer }> = [];
  for (const entry of parseList(get('ACCOUNTS_ENCRYPTION_KEYS') ?? '')) {
    const k = parseKey(entry);
    if (isError(k)) problems.push(`ACCOUNTS_ENCRYPTION_KEYS: each entry ${k.error}`);
    else previousKeys.push(k);
  }
  const apiToken = required('ACCOUNTS_API_TOKEN', 'the bearer token your product backend sends');
  if (apiToken !== '' && apiToken.length < 16) problems.push('ACCOUNTS_API_TOKEN: must be at least 16 characters');
  const clientId = required('ZOOM_OAUTH_CLIENT_ID', "your user-managed Zoom OAuth app's Client ID");
  const clientSecret = required('ZOOM_OAUTH_CLIENT_SECRET', "your user-managed Zoom OAuth app's Client Secret");
  const redirectUrl = required(
    'ZOOM_OAUTH_REDIRECT_URL',
    'the public URL of /oauth/zoom/callback, as registered in the Zoom app',
  );
  if (redirectUrl !== '' && !/^https?:\/\/[^/]+\/\S*$/.test(redirectUrl))
    problems.push('ZOOM_OAUTH_REDIRECT_URL: must be an absolute http(s) URL');
  const returnUrls = parseList(required('ACCOUNTS_RETURN_URLS', 'the URL prefixes a link may return the browser to'));
  for (const u of returnUrls) {
    if (!/^https?:\/\/[^/?#]+\/[^?#]*$/.test(u))
      problems.push(
        'ACCOUNTS_RETURN_URLS: each entry must be an absolute http(s) URL prefix ' +
          'with a path (e.g. https://app.example.com/zoom/)',
      );
  }
  const linkTtlMs = read('ACCOUNTS_LINK_TTL', parseDuration, 10 * 60_000);
  return {
    apiToken,
    encryptionKey: isError(key) ? { id: 'invalid', key: Buffer.alloc(32) } : key,
    previousKeys,
    clientId,
    clientSecret,
    redirectUrl,
    returnUrls,
    oauthBaseUrl: (get('ZOOM_OAUTH_BASE_URL') ?? 'https://zoom.us').replace(/\/+$/, ''),
    apiBaseUrl: (get('ZOOM_API_URL') ?? 'https://api.zoom.us/v2').replace(/\/+$/, ''),
    linkTtlMs,
    refreshMarginMs: read('ACCOUNTS_REFRESH_MARGIN', parseDuration, 5 * 60_000),
  };
}

type RtmsMedia = 'audio' | 'transcript' | 'chat';

function parseRtmsMedia(text: string): RtmsMedia[] | { error: string } {
  const names = text
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s.length > 0);
  if (names.length === 0 || names.some((n) => n !== 'audio' && n !== 'transcript' && n !== 'chat')) {
    return { error: 'must be a comma-separated list of audio, transcript, chat' };
  }
  return [...new Set(names)] as RtmsMedia[];
}

/**
 * S3_SHA256 (`sidecar` default, `metadata`, `none`); the older S3_SHA256_METADATA still works (true = `metadata`, the
 * server-side copy; false = `none`), but not together with S3_SHA256.
 */
function sha256Location(
  value: string | undefined,
  legacy: boolean | undefined,
  problems: string[],
): 'sidecar' | 'metadata' | 'none' {
  if (value !== undefined && legacy !== undefined)
    problems.push('S3_SHA256_METADATA: replaced by S3_SHA256; set only S3_SHA256');
  if (value === undefined) return legacy === undefined ? 'sidecar' : legacy ? 'metadata' : 'none';
  const v = value.trim().toLowerCase();
  if (v === 'sidecar' || v === 'metadata' || v === 'none') return v;
  problems.push("S3_SHA256: must be 'sidecar', 'metadata' or 'none'");
  return 'sidecar';
}

function positiveInt(text: string, max: number): number | { error: string } {
  if (!/^\d+$/.test(text.trim()) || Number(text) < 1 || Number(text) > max)
    return { error: `must be a whole number from 1 to ${max}` };
  return Number(text);
}

function deepFreeze<T>(o: T): T {
  // Buffers (the accounts keys) cannot be frozen.
  if (o && typeof o === 'object' && !Buffer.isBuffer(o)) {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

/** For main.ts: on bad configuration print one line per problem (names, never values) and exit 2. */
export function loadConfigOrExit(env: Env, options: LoadConfigOptions = {}): AppConfig {
  try {
    return loadConfig(env, options);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(
        `zoom-pipeline: cannot start: ${err.problems.length} configuration ` +
          `problem(s)\n${err.problems.map((p) => `  ${p}\n`).join('')}`,
      );
      process.exit(2);
    }
    throw err;
  }
}
