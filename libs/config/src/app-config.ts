/** The typed, frozen configuration every app receives (SPEC §4), provided under the CONFIG token. */

export type BusSettings =
  | {
      kind: 'kafka';
      brokers: string[];
      clientId: string;
      publishTimeoutMs: number;
      publishClient: 'kafkajs' | 'platformatic';
      client: 'kafkajs' | 'platformatic';
      groupPrefix?: string;
    }
  | { kind: 'file'; dir: string }
  | { kind: 'memory' };

export type DedupStoreSettings =
  { kind: 'redis'; url: string; keyPrefix: string } | { kind: 'embedded'; dir: string } | { kind: 'memory' };

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
      /**
       * S3_UPLOAD_MODE: `stream` parts straight from the download (default) or `buffered` (lib-storage, per-part
       * retries).
       */
      uploadMode: 'stream' | 'buffered';
      /**
       * S3_SHA256: where an S3 user finds each object's SHA-256: `sidecar` (`<key>.sha256`, no rewrite; default),
       * `metadata` (a server-side copy rewrites the object), `none` (only in zoom.recording.uploaded).
       */
      sha256Location: 'sidecar' | 'metadata' | 'none';
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
  /**
   * UPLOAD_RETRY_BUDGET: how long a file's transient failures are retried (with backoff) before it is dead-lettered.
   */
  retryBudgetMs: number;
  /**
   * UPLOAD_RETRY_MAX_DELAY: the longest wait between two tries of one file (a Retry-After is honoured up to the
   * budget).
   */
  retryMaxDelayMs: number;
}

export interface EventsSettings {
  /** EVENTS_REDACT_FIELDS: member names whose values zoom.events carries as "[redacted]"; empty: none. */
  redactFields: readonly string[];
}

/**
 * The accounts feature (issue #16): app users linked to their Zoom users by OAuth. Present when ACCOUNTS_ENCRYPTION_KEY
 * is set.
 */
export interface AccountsSettings {
  /** ACCOUNTS_API_TOKEN: the bearer the product backend sends (service to service). */
  apiToken: string;
  /** ACCOUNTS_ENCRYPTION_KEY (`kid:base64`): tokens at rest are sealed with this key (AES-256-GCM). */
  encryptionKey: { id: string; key: Buffer };
  /** ACCOUNTS_ENCRYPTION_KEYS: older keys, still read (rotation), never written. */
  previousKeys: ReadonlyArray<{ id: string; key: Buffer }>;
  /** ZOOM_OAUTH_CLIENT_ID / ZOOM_OAUTH_CLIENT_SECRET: the user-managed OAuth app (not the S2S one). */
  clientId: string;
  clientSecret: string;
  /** ZOOM_OAUTH_REDIRECT_URL: this service's public `.../oauth/zoom/callback`, as registered at Zoom. */
  redirectUrl: string;
  /** ACCOUNTS_RETURN_URLS: allowed returnUrl prefixes (origin + path prefix). */
  returnUrls: readonly string[];
  /**
   * ZOOM_OAUTH_BASE_URL (https://zoom.us) and ZOOM_API_URL (https://api.zoom.us/v2, shared with the reconciler); tests
   * point them at zoom-sim.
   */
  oauthBaseUrl: string;
  apiBaseUrl: string;
  /** ACCOUNTS_LINK_TTL: how long a started link (its state) and a confirmation code live. */
  linkTtlMs: number;
  /** Refresh an access token this long before it expires. */
  refreshMarginMs: number;
}

/** RTMS connector (apps/rtms, standalone): which app's credentials sign the handshake, what to store. */
export interface RtmsSettings {
  /** RTMS_CLIENT_ID / RTMS_CLIENT_SECRET, else ZOOM_CLIENT_ID / ZOOM_CLIENT_SECRET; undefined: the connector is off. */
  credentials?: { clientId: string; clientSecret: string };
  /** RTMS_MEDIA: media to ask Zoom for. */
  media: readonly ('audio' | 'transcript' | 'chat')[];
  /** RTMS_LEASE_TTL: how long a dead holder keeps a stream; another pod takes over after it. */
  leaseTtlMs: number;
  /** RTMS_AUDIO_SEGMENT: audio per stored WAV segment. */
  audioSegmentMs: number;
  /** RTMS_RECONNECT_MAX_DELAY: longest wait between two reconnects of a live stream. */
  reconnectMaxDelayMs: number;
  /** RTMS_MAX_STREAM_AGE: an rtms_started older than this is not connected (replays of old history). */
  maxStreamAgeMs: number;
  /** RTMS_INSTANCE_ID: this process's name as a lease owner and in its consumer group; default host name + pid. */
  instanceId: string;
}

export interface ReconcileSettings {
  /** RECONCILE_INTERVAL: time between scheduled runs; 0 (`off`) runs on demand only. */
  intervalMs: number;
  /** RECONCILE_LOOKBACK: how far back a scheduled run lists (from today − lookback to today, UTC days). */
  lookbackMs: number;
  /** ZOOM_API_URL: base URL of Zoom's REST API (tests point it at zoom-sim). */
  apiUrl: string;
  /**
   * ZOOM_API_RATE: requests per second the reconciler may send (Zoom's limits are per account, shared with downloads).
   */
  apiRequestsPerSecond: number;
  /** RECONCILE_LEDGER_TTL: how long a stored file is remembered in the ledger (must cover any backfill range). */
  ledgerTtlMs: number;
  /** RECONCILE_USERS: user ids to list one by one; empty: the account-level listing (`/accounts/me/recordings`). */
  users: readonly string[];
  /**
   * RECONCILE_ADMIN_TOKEN: Bearer token for the reconcile/redrive HTTP endpoints; unset: only loopback clients (the CLI
   * on
   * the same host, `kubectl port-forward`) may call them. A secret: never logged.
   */
  adminToken?: string;
  /** ZOOM_AFTER_UPLOAD: `keep` (default) or `trash` (move a file to Zoom's trash once its upload is verified). */
  afterUpload: 'keep' | 'trash';
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
  accounts?: AccountsSettings;
  rtms: RtmsSettings;
  reconcile: ReconcileSettings;
  attendance: AttendanceSettings;
}

/** Attendance (SPEC "Attendance"): the registration map / links / read model store, and when a session is final. */
export interface AttendanceSettings {
  /**
   * Same choice as the dedup store: REDIS_URL set = Redis (keys under `<REDIS_KEY_PREFIX>att:`), else
   * DATA_DIR/attendance.
   */
  store: { kind: 'redis'; url: string; keyPrefix: string } | { kind: 'embedded'; dir: string };
  /** ATTENDANCE_GRACE: how far (Zoom event time) a meeting must move past a leave before that session is emitted. */
  graceMs: number;
  /**
   * ATTENDANCE_END_STEP_BYTES: outputs of a meeting's end per transaction (a large end goes out in several); under
   * Kafka's 1 MiB record-batch limit with room for the batch's other outputs.
   */
  endStepBytes: number;
  /**
   * ATTENDANCE_API_TOKEN: Bearer token for the attendance HTTP endpoints; unset: only loopback clients may call them.
   * A secret: never logged.
   */
  apiToken?: string;
}

export const CONFIG = Symbol('CONFIG');
