/**
 * Accounts (issue #16) end to end: the standalone process on real Kafka, Redis and S3 (S3Proxy), zoom-sim playing
 * Zoom's OAuth, webhooks and downloads. A product backend links an app user to a Zoom user; that user's recording is
 * stored under the app user's prefix with `appuserid` on its canonical event; app_deauthorized revokes the link.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import {
  type AccountLinkEvent,
  TOPICS,
  decodeCanonicalEvent,
  decodeUploadResult,
  parseAccountLinkEvent,
} from '@zoom-pipeline/contracts';
import {
  type AppName,
  type AppProcess,
  freePort,
  loadEndpoints,
  markTopics,
  readTopic,
  removeBucket,
  startApp,
  uniqueName,
  uploaderS3Env,
  waitFor,
} from '@zoom-pipeline/test-support';
import {
  type DownloadServer,
  type OAuthServer,
  type SimZoomUser,
  ZoomWebhookSender,
  recordingCompleted,
  startDownloadServer,
  startOAuthServer,
} from '@zoom-pipeline/zoom-sim';

jest.setTimeout(300_000);

const e = loadEndpoints();
const SECRET = 'accounts-e2e-secret';
const API_TOKEN = `api-${randomBytes(12).toString('hex')}`;
const RETURN = 'https://app.example.com/zoom/linked';
const bucket = uniqueName('zp-acc');
const prefix = `${bucket}:`;
let oauth: OAuthServer;
let dl: DownloadServer;
let app: AppProcess;
let appEnv: Record<string, string>;
let sender: ZoomWebhookSender;
let marks: Awaited<ReturnType<typeof markTopics>>;
const redis = new Redis(e.redisUrl);
/** Every state, authorization code and confirmation code the test saw: none may reach a log. */
const secrets: string[] = [];

beforeAll(async () => {
  marks = await markTopics(TOPICS.events, TOPICS.uploaded, TOPICS.accountLinks);
  const port = await freePort();
  oauth = await startOAuthServer({ redirectUris: [`http://127.0.0.1:${port}/oauth/zoom/callback`] });
  dl = await startDownloadServer({ acceptAccessToken: (t) => oauth.isAccessTokenValid(t) });
  appEnv = {
    PORT: String(port),
    ZOOM_WEBHOOK_SECRET_TOKEN: SECRET,
    KAFKA_BROKERS: e.kafkaBrokers,
    REDIS_URL: e.redisUrl,
    REDIS_KEY_PREFIX: prefix,
    ...uploaderS3Env(e, bucket),
    OBJECT_KEY_TEMPLATE: '{app_user_id}/{meeting_id}/{file_id}.{ext}',
    ACCOUNTS_ENCRYPTION_KEY: `k1:${randomBytes(32).toString('base64')}`,
    ACCOUNTS_API_TOKEN: API_TOKEN,
    ZOOM_OAUTH_CLIENT_ID: oauth.clientId,
    ZOOM_OAUTH_CLIENT_SECRET: oauth.clientSecret,
    ZOOM_OAUTH_REDIRECT_URL: `http://127.0.0.1:${port}/oauth/zoom/callback`,
    ACCOUNTS_RETURN_URLS: 'https://app.example.com/zoom/',
    ZOOM_OAUTH_BASE_URL: oauth.url,
    ZOOM_API_URL: `${oauth.url}/v2`,
    ACCOUNTS_LINK_TTL: '6s',
    LOG_LEVEL: 'debug',
  };
  app = await startApp('standalone', appEnv, { waitFor: 'readyz', timeoutMs: 90_000 });
  sender = new ZoomWebhookSender({ targetUrl: `${app.url}/webhooks/zoom`, secret: SECRET, retryDelaysMs: [] });
});

afterAll(async () => {
  await app?.kill('SIGTERM');
  await Promise.all([oauth?.close(), dl?.close()]);
  redis.disconnect();
  await removeBucket(bucket);
});

function api(path: string, init: { method?: string; body?: unknown } = {}): Promise<Response> {
  return fetch(`${app.url}${path}`, {
    method: init.method ?? 'GET',
    headers: {
      authorization: `Bearer ${API_TOKEN}`,
      ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
}

/** The product backend starts a link; the browser goes through zoom-sim's consent and back to our callback. */
async function startAndConsent(
  appUserId: string,
  zoomUser: SimZoomUser,
): Promise<{ callbackUrl: string; res: Response }> {
  const started = await api('/accounts/links', { method: 'POST', body: { appUserId, returnUrl: RETURN } });
  expect(started.status).toBe(201);
  const { authorizeUrl } = (await started.json()) as { authorizeUrl: string };
  oauth.consentAs(zoomUser.id);
  const atZoom = await fetch(authorizeUrl, { redirect: 'manual' });
  const callbackUrl = atZoom.headers.get('location')!;
  const cb = new URL(callbackUrl);
  secrets.push(cb.searchParams.get('state')!, cb.searchParams.get('code')!);
  return { callbackUrl, res: await fetch(callbackUrl, { redirect: 'manual' }) };
}

function confirmationCode(res: Response): string {
  expect(res.status).toBe(302);
  const code = new URL(res.headers.get('location')!).searchParams.get('zoom_link_code')!;
  secrets.push(code);
  return code;
}

async function rawRedisValues(): Promise<string[]> {
  const keys = await redis.keys(`${prefix}accounts:*`);
  return Promise.all(keys.map(async (k) => ((await redis.type(k)) === 'string' ? ((await redis.get(k)) ?? '') : '')));
}

describe('accounts: link, route, deauthorize (standalone on Kafka, Redis, S3)', () => {
  const alice = { appUserId: `alice-${randomBytes(4).toString('hex')}` };
  let zoomAlice: SimZoomUser;

  it('refuses forged, replayed and expired state with a JSON error and stores nothing', async () => {
    const forged = await fetch(
      `${app.url}/oauth/zoom/callback?code=abc&state=${randomBytes(32).toString('base64url')}`,
      { redirect: 'manual' },
    );
    expect(forged.status).toBe(400);
    expect(await forged.json()).toMatchObject({ error: 'state_invalid' });
    const mallory = oauth.addUser();
    const { callbackUrl, res } = await startAndConsent('mallory', mallory);
    expect(res.status).toBe(302);
    const replay = await fetch(callbackUrl, { redirect: 'manual' });
    expect(replay.status).toBe(400);
    expect(await replay.json()).toMatchObject({ error: 'state_invalid' });
    // Expired: consent given, but the callback arrives after ACCOUNTS_LINK_TTL (6 s).
    const started = await api('/accounts/links', { method: 'POST', body: { appUserId: 'late', returnUrl: RETURN } });
    const { authorizeUrl } = (await started.json()) as { authorizeUrl: string };
    const late = (await fetch(authorizeUrl, { redirect: 'manual' })).headers.get('location')!;
    await new Promise((r) => setTimeout(r, 6_500));
    const expired = await fetch(late, { redirect: 'manual' });
    expect(expired.status).toBe(400);
    expect((await api('/accounts/links/late')).status).toBe(404);
    expect((await api('/accounts/links/mallory')).status).toBe(404); // consented but never confirmed
  });

  it('refuses a confirmation for another app user (the lured victim) and links nobody', async () => {
    const victimZoom = oauth.addUser();
    const { res } = await startAndConsent('attacker', victimZoom);
    const confirm = await api('/accounts/links/confirm', {
      method: 'POST',
      body: { code: confirmationCode(res), appUserId: 'victim' },
    });
    expect(confirm.status).toBe(403);
    expect(await confirm.json()).toMatchObject({ error: 'app_user_mismatch' });
    expect((await api('/accounts/links/victim')).status).toBe(404);
    expect((await api('/accounts/links/attacker')).status).toBe(404);
  });

  it(
    'routes nothing for an unconfirmed link, then stores the linked ' +
      "user's recording under the app user with appuserid",
    async () => {
      zoomAlice = oauth.addUser();
      const { res } = await startAndConsent(alice.appUserId, zoomAlice);
      const code = confirmationCode(res);

      // Not confirmed yet: a recording of this Zoom user belongs to nobody.
      const early = dl.addFile({ size: 200_000, fileExtension: 'MP4' });
      const earlyBody = recordingCompleted({
        downloadBaseUrl: dl.url,
        hostId: zoomAlice.id,
        accountId: zoomAlice.accountId,
        downloadToken: early.token,
        files: [{ id: early.fileId, size: early.size }],
      });
      expect((await sender.send(earlyBody)).attempts.at(-1)?.result).toBe(200);
      // Its canonical event is out (routed, or not) before the link is confirmed; the confirmation code lives 6 s.
      await waitFor(
        'the unlinked canonical event',
        async () =>
          (await readTopic(TOPICS.events, { from: marks.get(TOPICS.events), timeoutMs: 5_000 })).find(
            (r) => decodeCanonicalEvent(r.value).subject === earlyBody.payload.object.uuid,
          ),
        5_000,
        200,
      );

      const confirmed = await api('/accounts/links/confirm', {
        method: 'POST',
        body: { code, appUserId: alice.appUserId },
      });
      expect(confirmed.status).toBe(200);
      expect(await confirmed.json()).toMatchObject({
        appUserId: alice.appUserId,
        zoomUserId: zoomAlice.id,
        status: 'active',
      });
      expect(await (await api(`/accounts/links/${alice.appUserId}`)).json()).toMatchObject({
        status: 'active',
        zoomUserId: zoomAlice.id,
      });

      // The webhook's download token is rejected (a fake one): the downloader falls back to Alice's OAuth token.
      const f = dl.addFile({ size: 300_000, fileExtension: 'MP4' });
      const body = recordingCompleted({
        downloadBaseUrl: dl.url,
        hostId: zoomAlice.id,
        accountId: zoomAlice.accountId,
        files: [{ id: f.fileId, size: f.size }],
      });
      expect((await sender.send(body)).attempts.at(-1)?.result).toBe(200);
      const uploaded = await waitFor(
        'the linked upload',
        async () =>
          (await readTopic(TOPICS.uploaded, { from: marks.get(TOPICS.uploaded) })).find((r) => r.key === f.fileId),
        120_000,
        500,
      );
      const result = decodeUploadResult(uploaded.value);
      expect(result.key.startsWith(`${alice.appUserId}/`)).toBe(true);
      expect(result.sha256).toBe(f.sha256);
      const earlyUpload = await waitFor(
        'the unlinked upload',
        async () =>
          (await readTopic(TOPICS.uploaded, { from: marks.get(TOPICS.uploaded) })).find((r) => r.key === early.fileId),
        120_000,
        500,
      );
      expect(decodeUploadResult(earlyUpload.value).key.startsWith('unlinked/')).toBe(true);
      const events = (await readTopic(TOPICS.events, { from: marks.get(TOPICS.events) })).map((r) =>
        decodeCanonicalEvent(r.value),
      );
      expect(events.find((ev) => ev.subject === body.payload.object.uuid)?.appuserid).toBe(alice.appUserId);
      expect(events.find((ev) => ev.subject === earlyBody.payload.object.uuid)?.appuserid).toBeUndefined();
      expect(dl.stats().authHeaderLeaks).toBe(0);
    },
  );

  it(
    'app_deauthorized deletes the tokens (raw Redis), revokes ' + 'the link and says so on zoom.accounts.links',
    async () => {
      const link = await redis.get(`${prefix}accounts:link:${alice.appUserId}`);
      expect(JSON.parse(link!).tokens).toMatch(/^zpe1\./);
      expect((await oauth.deauthorize(zoomAlice.id, sender)).outcome?.attempts.at(-1)?.result).toBe(200);
      await waitFor(
        'the revoked link',
        async () => {
          const raw = await redis.get(`${prefix}accounts:link:${alice.appUserId}`);
          return raw !== null && JSON.parse(raw).status === 'revoked' ? raw : undefined;
        },
        60_000,
        250,
      );
      expect(JSON.parse((await redis.get(`${prefix}accounts:link:${alice.appUserId}`))!).tokens).toBeUndefined();
      expect(await redis.get(`${prefix}accounts:zoomuser:${zoomAlice.id}`)).toBeNull();
      expect(await (await api(`/accounts/links/${alice.appUserId}`)).json()).toMatchObject({ status: 'revoked' });
      // The store is written before the consumer's transaction (with the event) commits: wait for the event too.
      const linkEvents: AccountLinkEvent[] = await waitFor(
        'the revoked link event',
        async () => {
          const events = (await readTopic(TOPICS.accountLinks, { from: marks.get(TOPICS.accountLinks) }))
            .filter((r) => r.key === zoomAlice.id)
            .map((r) => parseAccountLinkEvent(r.value));
          return events.some((ev) => ev.status === 'revoked') ? events : undefined;
        },
        30_000,
        250,
      );
      expect(linkEvents.map((ev) => ev.status)).toEqual(['linked', 'revoked']);
      expect(linkEvents.every((ev) => ev.appUserId === alice.appUserId && ev.accountId === zoomAlice.accountId)).toBe(
        true,
      );
    },
  );

  it(
    'unlinks: DELETE revokes the grant at Zoom, deletes the link ' + 'and its tokens, and frees the Zoom user',
    async () => {
      const bobZoom = oauth.addUser();
      const { res } = await startAndConsent('bob', bobZoom);
      expect(
        (
          await api('/accounts/links/confirm', {
            method: 'POST',
            body: { code: confirmationCode(res), appUserId: 'bob' },
          })
        ).status,
      ).toBe(200);
      expect(oauth.grantsOf(bobZoom.id)).toBe(1);
      const revocations = oauth.stats().revocations;
      expect((await api('/accounts/links/bob', { method: 'DELETE' })).status).toBe(204);
      expect(oauth.stats().revocations).toBe(revocations + 1);
      expect(oauth.grantsOf(bobZoom.id)).toBe(0);
      expect((await api('/accounts/links/bob')).status).toBe(404);
      expect(await redis.get(`${prefix}accounts:link:bob`)).toBeNull();
      expect(await redis.get(`${prefix}accounts:zoomuser:${bobZoom.id}`)).toBeNull();
    },
  );

  it('apps/accounts (cluster mode) serves the same links from Redis, and only with the bearer', async () => {
    const { PORT: _port, ...env } = appEnv;
    // startApp's AppName lists the apps other suites start; the accounts app is built to dist/apps/accounts the same
    // way.
    const accounts = await startApp(
      'accounts' as AppName,
      { ...env, ZOOM_WEBHOOK_SECRET_TOKEN: '' },
      { waitFor: 'readyz', timeoutMs: 60_000 },
    );
    try {
      expect((await fetch(`${accounts.url}/accounts/links/${alice.appUserId}`)).status).toBe(401);
      const wrong = await fetch(`${accounts.url}/accounts/links/${alice.appUserId}`, {
        headers: { authorization: 'Bearer not-the-token' },
      });
      expect(wrong.status).toBe(401);
      expect(await wrong.json()).toMatchObject({ error: 'unauthorized' });
      const res = await fetch(`${accounts.url}/accounts/links/${alice.appUserId}`, {
        headers: { authorization: `Bearer ${API_TOKEN}` },
      });
      expect(await res.json()).toMatchObject({
        appUserId: alice.appUserId,
        zoomUserId: zoomAlice.id,
        status: 'revoked',
      });
    } finally {
      await accounts.kill('SIGTERM');
    }
  });

  it('never holds a token in clear in Redis, and never logs a token, code or state', async () => {
    const issued = oauth.issuedTokens();
    expect(issued.length).toBeGreaterThan(0);
    const raw = (await rawRedisValues()).join('\n');
    for (const t of issued) expect(raw).not.toContain(t);
    const logs = app.output();
    expect(logs).toContain('account linked');
    for (const s of [...issued, ...secrets, API_TOKEN]) expect(logs).not.toContain(s);
  });
});
