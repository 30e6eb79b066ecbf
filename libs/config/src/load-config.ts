import * as path from 'node:path';
import { DEFAULT_REDACT_FIELDS, validateObjectKeyTemplate } from '@zoom-pipeline/canonical';
import type { AppConfig, BusSettings, DedupStoreSettings, ObjectStoreSettings } from './app-config';
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
export const DEFAULT_OBJECT_KEY_TEMPLATE = '{account_id}/{yyyy}/{mm}/{dd}/{meeting_id}-{topic}/{recording_start}-{file_type}-{file_id}.{ext}';
/** Zoom's last retry comes ~85 min after the first attempt (docs/ZOOM-FACTS.md §3). */
const ZOOM_RETRY_SPAN_MS = 85 * 60_000;

type Env = Record<string, string | undefined>;

/** Per-app secrets: ZOOM_WEBHOOK_SECRET_TOKEN_<APP> serves POST /webhooks/zoom/<app> (app lowercased, `_` → `-`). */
const APP_SECRET_PREFIX = 'ZOOM_WEBHOOK_SECRET_TOKEN_';

export interface LoadConfigOptions {
  /** Whether this process serves webhooks and so needs ZOOM_WEBHOOK_SECRET_TOKEN (dedup and uploader do not). Default true. */
  requireWebhookSecrets?: boolean;
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
    problems.push('ZOOM_WEBHOOK_SECRET_TOKEN: required: the Secret Token of your Zoom app (comma-separated for rotation)');
  }
  for (const [app, list] of Object.entries(secretsByApp)) {
    if (list.length === 0) problems.push(`${app === 'default' ? 'ZOOM_WEBHOOK_SECRET_TOKEN' : APP_SECRET_PREFIX + app.toUpperCase()}: has no non-empty token`);
  }

  const dataDir = path.resolve(cwd, get('DATA_DIR') ?? './data');
  const dedupWindowMs = read('DEDUP_WINDOW', parseDuration, 24 * 3_600_000);
  const signatureToleranceMs = read('SIGNATURE_TOLERANCE', parseDuration, 2 * 3_600_000);
  const ackDeadlineMs = read('ACK_DEADLINE', parseDuration, 2_500);
  if (dedupWindowMs <= ZOOM_RETRY_SPAN_MS) {
    problems.push('DEDUP_WINDOW: must exceed Zoom\'s 85-minute retry span, or retries become new events');
  }
  if (signatureToleranceMs >= dedupWindowMs) {
    problems.push('SIGNATURE_TOLERANCE: must be below DEDUP_WINDOW, or a replay inside the tolerance could become a second canonical event');
  }
  if (ackDeadlineMs >= 3_000) problems.push('ACK_DEADLINE: must be below Zoom\'s 3 s timeout');

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
      }
    : { kind: 'file', dir: path.join(dataDir, 'log') };
  const redisUrl = get('REDIS_URL');
  if (redisUrl !== undefined && !/^rediss?:\/\//.test(redisUrl)) problems.push('REDIS_URL: must start with redis:// or rediss://');
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
        uploadMode: read('S3_UPLOAD_MODE', (t) => (t === 'stream' || t === 'buffered' ? t : { error: "must be 'stream' or 'buffered'" }), 'stream'),
        sha256Metadata: read('S3_SHA256_METADATA', parseBool, true),
      }
    : { kind: 'filesystem', dir: path.join(dataDir, 'objects') };

  const accountId = get('ZOOM_ACCOUNT_ID');
  const clientId = get('ZOOM_CLIENT_ID');
  const clientSecret = get('ZOOM_CLIENT_SECRET');
  const s2sCount = [accountId, clientId, clientSecret].filter((v) => v !== undefined).length;
  if (s2sCount > 0 && s2sCount < 3) {
    problems.push('ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID, ZOOM_CLIENT_SECRET: set all three for Server-to-Server OAuth, or none');
  }
  const allowedHosts = parseList(get('ZOOM_DOWNLOAD_ALLOWED_HOSTS') ?? 'zoom.us,*.zoom.us');
  for (const h of allowedHosts) {
    if (!/^(\*\.)?[a-z0-9.-]+$|^\[[0-9a-f:]+\]$/i.test(h)) problems.push('ZOOM_DOWNLOAD_ALLOWED_HOSTS: each entry must be a host name, *.domain, or an IP address (no scheme, no port)');
  }

  const objectKeyTemplate = get('OBJECT_KEY_TEMPLATE') ?? DEFAULT_OBJECT_KEY_TEMPLATE;
  for (const p of validateObjectKeyTemplate(objectKeyTemplate)) problems.push(`OBJECT_KEY_TEMPLATE: ${p}`);

  // Least privilege on zoom.events (every internal consumer reads it): credentials are redacted unless the operator
  // names other fields, or `none`.
  const redactSetting = get('EVENTS_REDACT_FIELDS');
  const redactFields = redactSetting === undefined ? [...DEFAULT_REDACT_FIELDS] : redactSetting.trim().toLowerCase() === 'none' ? [] : parseList(redactSetting);
  for (const f of redactFields) {
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(f)) problems.push('EVENTS_REDACT_FIELDS: each entry must be a JSON member name (letters, digits, _ . -), or the single word none');
  }

  const logLevel = (get('LOG_LEVEL') ?? 'info').toLowerCase();
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel)) {
    problems.push('LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent');
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
    faults: parseList(get('ZP_FAULTS') ?? ''),
    attendance: {
      store: redisUrl ? { kind: 'redis', url: redisUrl, keyPrefix: get('REDIS_KEY_PREFIX') ?? 'zp:' } : { kind: 'embedded', dir: path.join(dataDir, 'attendance') },
      graceMs: read('ATTENDANCE_GRACE', parseDuration, 120_000),
    },
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return deepFreeze(config);
}

function positiveInt(text: string, max: number): number | { error: string } {
  if (!/^\d+$/.test(text.trim()) || Number(text) < 1 || Number(text) > max) return { error: `must be a whole number from 1 to ${max}` };
  return Number(text);
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
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
      process.stderr.write(`zoom-pipeline: cannot start: ${err.problems.length} configuration problem(s)\n${err.problems.map((p) => `  ${p}\n`).join('')}`);
      process.exit(2);
    }
    throw err;
  }
}
