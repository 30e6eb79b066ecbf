import { ConfigError, loadConfig } from './load-config';

const base = { ZOOM_WEBHOOK_SECRET_TOKEN: 'super-secret-a,super-secret-b' };

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env, { cwd: '/srv' });
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  return [];
}

describe('loadConfig', () => {
  it('reads LOG_CLIENT_IPS and TRUST_PROXY like every other setting, naming a bad value', () => {
    const c = loadConfig({ ...base, LOG_CLIENT_IPS: 'true', TRUST_PROXY: '1' }, { cwd: '/srv' });
    expect([c.logClientIps, c.trustProxy]).toEqual([true, true]);
    expect(() => loadConfig({ ...base, TRUST_PROXY: 'maybe' }, { cwd: '/srv' })).toThrow(/TRUST_PROXY/);
  });

  it('gives the SPEC §4 defaults with embedded adapters when no cluster variable is set', () => {
    const c = loadConfig(base, { cwd: '/srv' });
    expect(c.port).toBe(8080);
    expect(c.dataDir).toBe('/srv/data');
    expect(c.webhook.secretsByApp.default).toEqual(['super-secret-a', 'super-secret-b']);
    expect(c.webhook.maxBodyBytes).toBe(512 * 1024);
    expect(c.webhook.signatureToleranceMs).toBe(2 * 3_600_000);
    expect(c.webhook.ackDeadlineMs).toBe(2_500);
    expect(c.dedupWindowMs).toBe(24 * 3_600_000);
    expect(c.bus).toEqual({ kind: 'file', dir: '/srv/data/log' });
    expect(c.dedupStore).toEqual({ kind: 'embedded', dir: '/srv/data/dedup' });
    expect(c.objectStore).toEqual({ kind: 'filesystem', dir: '/srv/data/objects' });
    expect(Object.isFrozen(c.webhook)).toBe(true);
    expect(c.logClientIps).toBe(false);
    expect(c.trustProxy).toBe(false);
  });

  it(
    "redacts Zoom's credentials on zoom.events by default; " +
      'EVENTS_REDACT_FIELDS replaces the list, `none` empties it',
    () => {
      expect(loadConfig(base).events.redactFields).toEqual(['download_token', 'password', 'recording_play_passcode']);
      expect(loadConfig({ ...base, EVENTS_REDACT_FIELDS: 'download_token, email' }).events.redactFields).toEqual([
        'download_token',
        'email',
      ]);
      expect(loadConfig({ ...base, EVENTS_REDACT_FIELDS: 'None' }).events.redactFields).toEqual([]);
      expect(problemsOf({ ...base, EVENTS_REDACT_FIELDS: 'download_token,a b' })).toEqual([
        'EVENTS_REDACT_FIELDS: each entry must be a JSON member name (letters, digits, _ . -), or the single word none',
      ]);
    },
  );

  it('reads the upload retry budget and maximum delay (30 min and 5 min by default) and names a bad one', () => {
    expect(loadConfig(base, { cwd: '/srv' }).upload).toMatchObject({
      retryBudgetMs: 30 * 60_000,
      retryMaxDelayMs: 5 * 60_000,
    });
    expect(
      loadConfig({ ...base, UPLOAD_RETRY_BUDGET: '2h', UPLOAD_RETRY_MAX_DELAY: '30s' }, { cwd: '/srv' }).upload,
    ).toMatchObject({ retryBudgetMs: 7_200_000, retryMaxDelayMs: 30_000 });
    expect(
      problemsOf({ ...base, UPLOAD_RETRY_BUDGET: 'forever' }).some((p) => p.startsWith('UPLOAD_RETRY_BUDGET:')),
    ).toBe(true);
  });

  it('swaps in Kafka, Redis and S3 when their variables are set', () => {
    const c = loadConfig({
      ...base,
      KAFKA_BROKERS: 'k1:9092, k2:9092',
      REDIS_URL: 'redis://r:6379',
      S3_BUCKET: 'rec',
      S3_FORCE_PATH_STYLE: 'true',
    });
    expect(c.bus).toMatchObject({ kind: 'kafka', brokers: ['k1:9092', 'k2:9092'] });
    expect(c.dedupStore).toMatchObject({ kind: 'redis', url: 'redis://r:6379' });
    expect(c.objectStore).toMatchObject({ kind: 's3', bucket: 'rec', forcePathStyle: true, region: 'us-east-1' });
  });

  it('puts the SHA-256 in a sidecar by default (S3_SHA256); still reads the older S3_SHA256_METADATA', () => {
    const s3 = { ...base, S3_BUCKET: 'rec' };
    expect(loadConfig(s3).objectStore).toMatchObject({ sha256Location: 'sidecar' });
    expect(loadConfig({ ...s3, S3_SHA256: 'metadata' }).objectStore).toMatchObject({ sha256Location: 'metadata' });
    expect(loadConfig({ ...s3, S3_SHA256: 'NONE' }).objectStore).toMatchObject({ sha256Location: 'none' });
    expect(loadConfig({ ...s3, S3_SHA256_METADATA: 'true' }).objectStore).toMatchObject({
      sha256Location: 'metadata',
    });
    expect(loadConfig({ ...s3, S3_SHA256_METADATA: 'false' }).objectStore).toMatchObject({ sha256Location: 'none' });
    expect(problemsOf({ ...s3, S3_SHA256: 'tags' })).toEqual(["S3_SHA256: must be 'sidecar', 'metadata' or 'none'"]);
    expect(problemsOf({ ...s3, S3_SHA256: 'none', S3_SHA256_METADATA: 'true' })).toEqual([
      'S3_SHA256_METADATA: replaced by S3_SHA256; set only S3_SHA256',
    ]);
  });

  it('chooses the publish client with KAFKA_PUBLISH_CLIENT (default platformatic), refusing others', () => {
    const kafka = { ...base, KAFKA_BROKERS: 'k1:9092' };
    expect(loadConfig(kafka).bus).toMatchObject({ kind: 'kafka', publishClient: 'platformatic' });
    expect(loadConfig({ ...kafka, KAFKA_PUBLISH_CLIENT: 'kafkajs' }).bus).toMatchObject({ publishClient: 'kafkajs' });
    expect(problemsOf({ ...kafka, KAFKA_PUBLISH_CLIENT: 'librdkafka' })).toEqual([
      "KAFKA_PUBLISH_CLIENT: must be 'kafkajs' or 'platformatic'",
    ]);
  });

  it(
    'chooses the consumer client with KAFKA_CLIENT (platformatic unless told ' +
      'otherwise), which also sets the publish default',
    () => {
      const kafka = { ...base, KAFKA_BROKERS: 'k1:9092' };
      expect(loadConfig(kafka).bus).toMatchObject({ client: 'platformatic', publishClient: 'platformatic' });
      expect(loadConfig({ ...kafka, KAFKA_CLIENT: 'platformatic' }).bus).toMatchObject({
        client: 'platformatic',
        publishClient: 'platformatic',
      });
      // KAFKA_CLIENT=kafkajs puts the whole adapter on kafkajs; KAFKA_PUBLISH_CLIENT still overrides the producer.
      expect(loadConfig({ ...kafka, KAFKA_CLIENT: 'kafkajs' }).bus).toMatchObject({
        client: 'kafkajs',
        publishClient: 'kafkajs',
      });
      expect(loadConfig({ ...kafka, KAFKA_CLIENT: 'kafkajs', KAFKA_PUBLISH_CLIENT: 'platformatic' }).bus).toMatchObject(
        {
          client: 'kafkajs',
          publishClient: 'platformatic',
        },
      );
      expect(problemsOf({ ...kafka, KAFKA_CLIENT: 'node-rdkafka' })).toEqual([
        "KAFKA_CLIENT: must be 'kafkajs' or 'platformatic'",
      ]);
    },
  );

  it('reads per-app secrets for /webhooks/zoom/:app', () => {
    const c = loadConfig({ ZOOM_WEBHOOK_SECRET_TOKEN_SALES_EU: 's1' });
    expect(c.webhook.secretsByApp).toEqual({ 'sales-eu': ['s1'] });
  });

  it('names every bad variable on its own line and never prints a value', () => {
    const problems = problemsOf({
      PORT: 'eighty',
      DEDUP_WINDOW: '60m',
      MAX_BODY_BYTES: 'lots',
      ACK_DEADLINE: '5s',
      REDIS_URL: 'tcp://secret-host',
    });
    expect(problems.map((p) => p.split(':')[0]).sort()).toEqual(
      [
        'ACK_DEADLINE',
        'DEDUP_WINDOW',
        'MAX_BODY_BYTES',
        'PORT',
        'REDIS_URL',
        'SIGNATURE_TOLERANCE',
        'ZOOM_WEBHOOK_SECRET_TOKEN',
      ].sort(),
    );
    expect(problems.join('\n')).not.toMatch(/eighty|lots|secret-host/);
  });

  it('refuses a signature tolerance that is not below the dedup window', () => {
    expect(problemsOf({ ...base, SIGNATURE_TOLERANCE: '3h', DEDUP_WINDOW: '2h' })).toEqual([
      expect.stringMatching(/^SIGNATURE_TOLERANCE: must be below DEDUP_WINDOW/),
    ]);
  });

  it('requires all three S2S OAuth variables together', () => {
    expect(problemsOf({ ...base, ZOOM_CLIENT_ID: 'abc' })[0]).toMatch(
      /^ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID, ZOOM_CLIENT_SECRET/,
    );
  });

  it('accepts durations and sizes with units', () => {
    const c = loadConfig({ ...base, SIGNATURE_TOLERANCE: '90m', ACK_DEADLINE: '2000ms', MAX_BODY_BYTES: '1MiB' });
    expect(c.webhook.signatureToleranceMs).toBe(90 * 60_000);
    expect(c.webhook.ackDeadlineMs).toBe(2000);
    expect(c.webhook.maxBodyBytes).toBe(1024 * 1024);
  });

  describe('accounts (ACCOUNTS_ENCRYPTION_KEY and companions)', () => {
    const key = Buffer.alloc(32, 7).toString('base64');
    const accounts = {
      ...base,
      ACCOUNTS_ENCRYPTION_KEY: `k2:${key}`,
      ACCOUNTS_ENCRYPTION_KEYS: `k1:${Buffer.alloc(32, 1).toString('base64')}`,
      ACCOUNTS_API_TOKEN: 'backend-token-0123456789',
      ZOOM_OAUTH_CLIENT_ID: 'cid',
      ZOOM_OAUTH_CLIENT_SECRET: 'csecret',
      ZOOM_OAUTH_REDIRECT_URL: 'https://zp.example.com/oauth/zoom/callback',
      ACCOUNTS_RETURN_URLS: 'https://app.example.com/zoom/',
    };

    it('is off without the key, and reads every setting with it (key ids for rotation, 10 min links)', () => {
      expect(loadConfig(base).accounts).toBeUndefined();
      const c = loadConfig(accounts).accounts!;
      expect(c.encryptionKey.id).toBe('k2');
      expect(c.encryptionKey.key.equals(Buffer.alloc(32, 7))).toBe(true);
      expect(c.previousKeys.map((k) => k.id)).toEqual(['k1']);
      expect(c).toMatchObject({
        linkTtlMs: 600_000,
        oauthBaseUrl: 'https://zoom.us',
        apiBaseUrl: 'https://api.zoom.us/v2',
        returnUrls: ['https://app.example.com/zoom/'],
      });
      // A bare key gets an id derived from it.
      expect(loadConfig({ ...accounts, ACCOUNTS_ENCRYPTION_KEY: key }).accounts!.encryptionKey.id).toMatch(
        /^[0-9a-f]{8}$/,
      );
    });

    it('names each missing companion and a short key, never printing a value', () => {
      const problems = problemsOf({ ...base, ACCOUNTS_ENCRYPTION_KEY: 'k1:c2hvcnQ=' });
      expect(problems.map((p) => p.split(':')[0]).sort()).toEqual(
        [
          'ACCOUNTS_API_TOKEN',
          'ACCOUNTS_ENCRYPTION_KEY',
          'ACCOUNTS_RETURN_URLS',
          'ZOOM_OAUTH_CLIENT_ID',
          'ZOOM_OAUTH_CLIENT_SECRET',
          'ZOOM_OAUTH_REDIRECT_URL',
        ].sort(),
      );
      expect(problems.join('\n')).not.toContain('c2hvcnQ=');
      expect(problemsOf({ ...base, ACCOUNTS_API_TOKEN: 'x'.repeat(20) })).toEqual([
        expect.stringMatching(/^ACCOUNTS_ENCRYPTION_KEY: required/),
      ]);
      expect(problemsOf({ ...accounts, ACCOUNTS_RETURN_URLS: 'app.example.com' })).toEqual([
        expect.stringMatching(/^ACCOUNTS_RETURN_URLS:/),
      ]);
    });

    it('requires the key in the accounts service', () => {
      expect(() => loadConfig(base, { requireAccounts: true })).toThrow(/ACCOUNTS_ENCRYPTION_KEY/);
    });
  });

  it(
    'reads the RTMS settings: own credentials, else the Zoom app client ' +
      'credentials; audio and transcript by default',
    () => {
      const c = loadConfig({
        ...base,
        RTMS_CLIENT_ID: 'rid',
        RTMS_CLIENT_SECRET: 'rsecret',
        RTMS_INSTANCE_ID: 'pod-1',
      });
      expect(c.rtms).toEqual({
        credentials: { clientId: 'rid', clientSecret: 'rsecret' },
        media: ['audio', 'transcript'],
        leaseTtlMs: 15_000,
        audioSegmentMs: 60_000,
        reconnectMaxDelayMs: 30_000,
        maxStreamAgeMs: 24 * 3_600_000,
        instanceId: 'pod-1',
      });
      const reuse = loadConfig({
        ...base,
        ZOOM_ACCOUNT_ID: 'a',
        ZOOM_CLIENT_ID: 'zid',
        ZOOM_CLIENT_SECRET: 'zs',
        RTMS_MEDIA: 'chat, transcript',
      });
      expect(reuse.rtms.credentials).toEqual({ clientId: 'zid', clientSecret: 'zs' });
      expect(reuse.rtms.media).toEqual(['chat', 'transcript']);
      expect(loadConfig(base).rtms.credentials).toBeUndefined();
    },
  );

  it('refuses bad RTMS settings by name, never printing the secret', () => {
    const problems = problemsOf({
      ...base,
      RTMS_CLIENT_SECRET: 'hush-hush',
      RTMS_MEDIA: 'video',
      RTMS_LEASE_TTL: '100ms',
    });
    expect(problems.map((p) => p.split(':')[0]).sort()).toEqual([
      'RTMS_CLIENT_ID, RTMS_CLIENT_SECRET',
      'RTMS_LEASE_TTL',
      'RTMS_MEDIA',
    ]);
    expect(problems.join('\n')).not.toMatch(/hush-hush/);
  });

  it('reconcile: hourly over 48 h by default, `off` for on demand only, trash off unless asked, clear errors', () => {
    expect(loadConfig(base).reconcile).toMatchObject({
      intervalMs: 3_600_000,
      lookbackMs: 48 * 3_600_000,
      apiUrl: 'https://api.zoom.us/v2',
      apiRequestsPerSecond: 5,
      users: [],
      afterUpload: 'keep',
    });
    expect(
      loadConfig({ ...base, RECONCILE_INTERVAL: 'off', RECONCILE_USERS: 'a@x.com, u2', ZOOM_AFTER_UPLOAD: 'trash' })
        .reconcile,
    ).toMatchObject({ intervalMs: 0, users: ['a@x.com', 'u2'], afterUpload: 'trash' });
    expect(() =>
      loadConfig({
        ...base,
        RECONCILE_INTERVAL: '10s',
        RECONCILE_LOOKBACK: 'soon',
        ZOOM_AFTER_UPLOAD: 'delete',
        ZOOM_API_RATE: '0',
      }),
    ).toThrow(
      new RegExp(
        String.raw`RECONCILE_INTERVAL: must be at least 1m[\s\S]*RECONCILE_LOOKBACK[\s\S]*` +
          String.raw`ZOOM_AFTER_UPLOAD: must be 'keep' or 'trash'[\s\S]*ZOOM_API_RATE`,
      ),
    );
  });

  it('attendance: ATTENDANCE_API_TOKEN is optional; unset or blank means loopback callers only', () => {
    expect(loadConfig(base).attendance.apiToken).toBeUndefined();
    expect(loadConfig({ ...base, ATTENDANCE_API_TOKEN: '  ' }).attendance.apiToken).toBeUndefined();
    expect(loadConfig({ ...base, ATTENDANCE_API_TOKEN: 'backend-token' }).attendance.apiToken).toBe('backend-token');
  });
});
