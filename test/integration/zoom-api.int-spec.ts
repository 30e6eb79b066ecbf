/**
 * libs/zoom-api against zoom-sim's REST API (no Kafka needed): a 90-day backfill of 3,000 meetings is split into
 * windows of at most a month, every page is read, 429s are honoured, nothing is listed twice or missed; the S2S
 * token is fetched once per expiry across concurrent callers and shared with the downloader.
 */
import { Registry } from 'prom-client';
import { S2STokenProvider, ZoomDownloader } from '@zoom-pipeline/zoom-download';
import { ZoomApiClient, ZoomApiError, splitIntoWindows } from '@zoom-pipeline/zoom-api';
import {
  type DownloadServer,
  type ZoomApiServer,
  startDownloadServer,
  startZoomApiServer,
} from '@zoom-pipeline/zoom-sim';

jest.setTimeout(120_000);

const creds = { accountId: 'acct-int', clientId: 'client-int', clientSecret: 'secret-int-s3cr3t' };
let dl: DownloadServer;
let api: ZoomApiServer;
const FROM = '2026-01-01';
const TO = '2026-03-31';
const DAY_MS = 86_400_000;

beforeAll(async () => {
  dl = await startDownloadServer();
  dl.setS2SCredentials(creds);
  api = await startZoomApiServer({ downloads: dl });
  const start = Date.parse(`${FROM}T00:00:00Z`);
  for (let i = 0; i < 3000; i++) {
    // Spread over the 90 days, at all hours (including right around midnight, the window edges).
    const at = start + Math.floor((i * 90 * DAY_MS) / 3000) + (i % 7) * 1000;
    api.addRecording({
      startTimeMs: at,
      durationMinutes: 30,
      hostId: i % 2 === 0 ? 'host-even' : 'host-odd',
      files: [{ size: 1000 + i }],
    });
  }
});

afterAll(async () => {
  await api?.close();
  await dl?.close();
});

function client(extra: Partial<ConstructorParameters<typeof ZoomApiClient>[0]> = {}): {
  c: ZoomApiClient;
  tokens: S2STokenProvider;
  registry: Registry;
} {
  const tokens = new S2STokenProvider({ ...creds, tokenUrl: dl.tokenUrl });
  const registry = new Registry();
  return {
    c: new ZoomApiClient({ tokens, baseUrl: api.url, requestsPerSecond: 50, registry, ...extra }),
    tokens,
    registry,
  };
}

describe('ZoomApiClient against zoom-sim', () => {
  it('lists a 90-day backfill of 3,000 meetings: every window and page, 429s honoured, each once', async () => {
    api.resetStats();
    const { c, registry } = client();
    // A per-second limit below the client's budget, plus a burst of 429s with a 2 s Retry-After part-way.
    api.setMaxRequestsPerSecond(4);
    const seen = new Map<string, number>();
    let pages = 0;
    for await (const page of c.listRecordings({ scope: { kind: 'account' }, from: FROM, to: TO })) {
      pages += 1;
      if (pages === 3) api.rateLimitNext(2, 2);
      for (const m of page.meetings) seen.set(m.uuid, (seen.get(m.uuid) ?? 0) + 1);
    }
    api.setMaxRequestsPerSecond(undefined);
    const stats = api.stats();

    expect(seen.size).toBe(3000);
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
    expect(Object.values(stats.listed).every((n) => n === 1)).toBe(true);
    expect(new Set(seen.keys())).toEqual(new Set(api.recordings().map((r) => r.uuid)));
    // 3 windows; each window's meetings in pages of 300.
    const windows = splitIntoWindows(FROM, TO);
    expect(windows).toHaveLength(3);
    const minimum = windows
      .map(
        (w) =>
          api
            .recordings()
            .filter(
              (r) =>
                String(r.meeting.start_time).slice(0, 10) >= w.from &&
                String(r.meeting.start_time).slice(0, 10) <= w.to,
            ).length,
      )
      .reduce((sum, n) => sum + Math.max(1, Math.ceil(n / 300)), 0);
    expect(pages).toBe(minimum);
    expect(stats.pages).toBe(minimum);
    expect(stats.rateLimited).toBeGreaterThanOrEqual(2);
    expect(stats.ignoredRetryAfter).toBe(0);
    expect(stats.badRequests).toBe(0);
    // Every 429 was retried, so requests = pages + 429s; the metric counts them by status.
    expect(c.requestCount).toBe(stats.pages + stats.rateLimited);
    const metrics = await registry.getSingleMetricAsString('zoom_api_requests_total');
    expect(metrics).toMatch(
      /zoom_api_requests_total\{endpoint="GET \/accounts\/\{accountId\}\/recordings",status="429"\} \d+/,
    );
  });

  it('lists one user, and never puts the token in metrics', async () => {
    const { c, registry } = client();
    let n = 0;
    for await (const page of c.listRecordings({ scope: { kind: 'user', userId: 'host-even' }, from: FROM, to: TO })) {
      n += page.meetings.length;
      expect(page.meetings.every((m) => m.host_id === 'host-even')).toBe(true);
    }
    expect(n).toBe(1500);
    const token = await client().tokens.getToken();
    expect(await registry.metrics()).not.toContain(token);
  });

  it('shares one token between concurrent listings and the downloader: one token call per expiry', async () => {
    const before = dl.stats().tokenRequests;
    const { c, tokens } = client();
    const downloader = new ZoomDownloader({ allowedHosts: ['127.0.0.1', '127.0.0.2'], s2sTokens: tokens });
    const rec = api.recordings()[0]!;
    const file = rec.files[0]!;
    const count = async (userId: string): Promise<number> => {
      let k = 0;
      for await (const p of c.listRecordings({ scope: { kind: 'user', userId }, from: '2026-01-01', to: '2026-01-10' }))
        k += p.meetings.length;
      return k;
    };
    const download = async (): Promise<number> => {
      const stream = await downloader.open({
        url: String((rec.meeting.recording_files as Array<Record<string, unknown>>)[0]!.download_url),
        expectedSize: file.size,
        tokens: [],
      });
      let bytes = 0;
      for await (const chunk of stream.body) bytes += (chunk as Buffer).length;
      return bytes;
    };
    const [a, b, bytes] = await Promise.all([count('host-even'), count('host-odd'), download()]);
    expect(a + b).toBeGreaterThan(0);
    expect(bytes).toBe(file.size);
    expect(dl.stats().tokenRequests - before).toBe(1);
  });

  it('refreshes an expired token once, and fails with a clear error on wrong credentials', async () => {
    const shortDl = await startDownloadServer({ accessTokenTtlSec: 61 });
    shortDl.setS2SCredentials(creds);
    const shortApi = await startZoomApiServer({ downloads: shortDl });
    try {
      shortApi.addRecording({ startTimeMs: Date.parse('2026-02-01T10:00:00Z') });
      let now = Date.now();
      const tokens = new S2STokenProvider({ ...creds, tokenUrl: shortDl.tokenUrl, now: () => now });
      const c = new ZoomApiClient({ tokens, baseUrl: shortApi.url, requestsPerSecond: 50 });
      const list = async (): Promise<number> => {
        let k = 0;
        for await (const p of c.listRecordings({ scope: { kind: 'account' }, from: '2026-02-01', to: '2026-02-01' }))
          k += p.meetings.length;
        return k;
      };
      expect(await list()).toBe(1);
      now += 5_000; // 56 s left: inside the 60 s margin, the cache fetches a new one
      expect(await list()).toBe(1);
      expect(shortDl.stats().tokenRequests).toBe(2);

      const wrong = new ZoomApiClient({
        tokens: new S2STokenProvider({ ...creds, clientSecret: 'wrong', tokenUrl: shortDl.tokenUrl }),
        baseUrl: shortApi.url,
      });
      const err = await (async () => {
        for await (const _p of wrong.listRecordings({
          scope: { kind: 'account' },
          from: '2026-02-01',
          to: '2026-02-01',
        }))
          return undefined;
        return undefined;
      })().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).message).toMatch(/refused the Server-to-Server OAuth credentials \(HTTP 401\)/);
      expect((err as Error).message).not.toContain('wrong');

      // A token Zoom rejects (401 from the API) is replaced once; the second 401 is the app's scopes.
      const revoked = await tokens.getToken();
      shortDl.revokeToken(revoked);
      expect(await list()).toBe(1);
      const e2 = await (async () => {
        const bad = { getToken: async () => 'not-a-token', invalidate: () => undefined };
        const c2 = new ZoomApiClient({ tokens: bad, baseUrl: shortApi.url });
        for await (const _p of c2.listRecordings({ scope: { kind: 'account' }, from: '2026-02-01', to: '2026-02-01' }))
          return undefined;
        return undefined;
      })().catch((e: unknown) => e);
      expect(e2).toBeInstanceOf(ZoomApiError);
      expect((e2 as ZoomApiError).code).toBe('zoom_api_unauthorized');
    } finally {
      await shortApi.close();
      await shortDl.close();
    }
  });

  it(
    'registers meeting registrants: unique join_url, same registrant for ' +
      'the same email, 429 honoured, refusals typed',
    async () => {
      const { c, tokens, registry } = client();
      api.addMeeting({ meetingId: '81234567890', registration: true });
      api.addMeeting({ meetingId: '81234567891', registration: false });
      api.rateLimitNext(1, 1);
      const ana = await c.addMeetingRegistrant('81234567890', { email: 'ana@example.com', firstName: 'Ana' });
      const bo = await c.addMeetingRegistrant('81234567890', {
        email: 'bo@example.com',
        firstName: 'Bo',
        lastName: 'K',
      });
      expect(ana.joinUrl).not.toBe(bo.joinUrl);
      expect(ana.registrantId).not.toBe(bo.registrantId);
      expect(api.registrants('81234567890').map((r) => [r.email, r.firstName, r.lastName])).toEqual([
        ['ana@example.com', 'Ana', undefined],
        ['bo@example.com', 'Bo', 'K'],
      ]);
      expect(await c.addMeetingRegistrant('81234567890', { email: 'ana@example.com', firstName: 'Ana' })).toEqual(ana);
      expect(await registry.metrics()).toMatch(
        /zoom_api_requests_total\{endpoint="POST \/meetings\/\{meetingId\}\/registrants",status="429"\} 1/,
      );
      const token = await tokens.getToken();
      const refusal = async (meetingId: string) =>
        (await c
          .addMeetingRegistrant(meetingId, { email: 'ana@example.com', firstName: 'Ana' })
          .catch((e: unknown) => e)) as ZoomApiError;
      const off = await refusal('81234567891');
      expect(off).toBeInstanceOf(ZoomApiError);
      expect(off.details).toMatchObject({ status: 400, zoomCode: 3000, retryable: false });
      const missing = await refusal('81234567899');
      expect(missing.details).toMatchObject({ status: 404, zoomCode: 3001 });
      for (const e of [off, missing]) {
        expect(e.message).not.toContain(token);
        // Zoom's message is not repeated (it may echo what we sent).
        expect(e.message).not.toMatch(/Registration has not been enabled|does not exist/);
      }
    },
  );
});
