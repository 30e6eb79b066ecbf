/** The typed, frozen configuration every app receives (SPEC §4), provided under the CONFIG token. */

export type BusSettings =
  | { kind: 'kafka'; brokers: string[]; clientId: string; publishTimeoutMs: number; publishClient: 'kafkajs' | 'platformatic'; client: 'kafkajs' | 'platformatic' }
  | { kind: 'file'; dir: string }
  | { kind: 'memory' };

export type DedupStoreSettings = { kind: 'redis'; url: string; keyPrefix: string } | { kind: 'embedded'; dir: string } | { kind: 'memory' };

export type ObjectStoreSettings =
  | {
      kind: 's3';
      bucket: string;
      endpoint?: string;
      region: string;
      forcePathStyle: boolean;
      partSizeBytes: number;
      queueSize: number;
      createBucketIfMissing: boolean;
      /** S3_UPLOAD_MODE: `stream` parts straight from the download (default) or `buffered` (lib-storage, per-part retries). */
      uploadMode: 'stream' | 'buffered';
      /** S3_SHA256_METADATA: also store the SHA-256 in the object's metadata (costs a server-side copy). */
      sha256Metadata: boolean;
    }
  | { kind: 'filesystem'; dir: string }
  | { kind: 'memory' };

export interface WebhookSettings {
  /** Secret tokens per Zoom app; `default` serves `POST /webhooks/zoom`, others `POST /webhooks/zoom/:app`. */
  secretsByApp: Readonly<Record<string, readonly string[]>>;
  signatureToleranceMs: number;
  maxBodyBytes: number;
  ackDeadlineMs: number;
}

export interface DownloadSettings {
  allowedHosts: readonly string[];
  s2s?: { accountId: string; clientId: string; clientSecret: string };
  /** Base URL of Zoom's OAuth server (tests point it at zoom-sim). */
  oauthUrl: string;
  maxAttempts: number;
}

export interface UploadSettings {
  fileTypes?: string;
  objectKeyTemplate: string;
  concurrency: number;
  leaseTtlMs: number;
  /** UPLOAD_RETRY_BUDGET: how long a file's transient failures are retried (with backoff) before it is dead-lettered. */
  retryBudgetMs: number;
  /** UPLOAD_RETRY_MAX_DELAY: the longest wait between two tries of one file (a Retry-After is honoured up to the budget). */
  retryMaxDelayMs: number;
}

export interface EventsSettings {
  /** EVENTS_REDACT_FIELDS: member names whose values zoom.events carries as "[redacted]"; empty: none. */
  redactFields: readonly string[];
}

export interface AppConfig {
  port: number;
  host: string;
  dataDir: string;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** How long /readyz reports 503 before the server stops taking connections on SIGTERM. */
  shutdownDelayMs: number;
  /** Log client IP addresses as they are (personal data: censored by default). */
  logClientIps: boolean;
  /** Take the client address from X-Forwarded-For (only behind a proxy that sets it). */
  trustProxy: boolean;
  webhook: WebhookSettings;
  dedupWindowMs: number;
  bus: BusSettings;
  dedupStore: DedupStoreSettings;
  objectStore: ObjectStoreSettings;
  download: DownloadSettings;
  upload: UploadSettings;
  events: EventsSettings;
  /** Test-only fault hooks (e.g. `dedup.crash_after_claim`), armed through ZP_FAULTS. Empty in production. */
  faults: readonly string[];
  attendance: AttendanceSettings;
}

/** Attendance (SPEC "Attendance"): the registration map / links / read model store, and when a session is final. */
export interface AttendanceSettings {
  /** Same choice as the dedup store: REDIS_URL set = Redis (keys under `<REDIS_KEY_PREFIX>att:`), else DATA_DIR/attendance. */
  store: { kind: 'redis'; url: string; keyPrefix: string } | { kind: 'embedded'; dir: string };
  /** ATTENDANCE_GRACE: how far (Zoom event time) a meeting must move past a leave before that session is emitted. */
  graceMs: number;
}

export const CONFIG = Symbol('CONFIG');
