import { createServer } from 'node:net';
import { startCaptureServer, type CaptureServer, type CapturedRequest } from './capture-server';
import { recordingCompleted, type urlValidation } from './payload-builder';
import { FastClock, SteppingClock } from './sim-clock';
import { ZOOM_ACK_TIMEOUT_MS, ZOOM_RETRY_DELAYS_MS, ZoomWebhookSender } from './webhook-sender';
import { zoomEncryptedToken, zoomSignature } from './zoom-signature';

const SECRET = 'sim-secret';
const MIN = 60_000;

function header(req: CapturedRequest, name: string): string {
  const v = req.headers[name];
  if (typeof v !== 'string') throw new Error(`missing header ${name}`);
  return v;
}

/** What a correct receiver checks, done independently of the sender's own bookkeeping. */
function signatureValid(req: CapturedRequest): boolean {
  return header(req, 'x-zm-signature') === zoomSignature(SECRET, header(req, 'x-zm-request-timestamp'), req.body);
}

async function closedPortUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}/webhooks/zoom`;
}

describe('ZoomWebhookSender', () => {
  const servers: CaptureServer[] = [];
  async function receiver(...args: Parameters<typeof startCaptureServer>): Promise<CaptureServer> {
    const s = await startCaptureServer(...args);
    servers.push(s);
    return s;
  }
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });

  it("defaults to Zoom's 3 s deadline and 5/20/60 min retries", () => {
    const sender = new ZoomWebhookSender({ targetUrl: 'http://127.0.0.1:1/', secret: SECRET });
    expect(sender.ackTimeoutMs).toBe(ZOOM_ACK_TIMEOUT_MS);
    expect(ZOOM_ACK_TIMEOUT_MS).toBe(3000);
    expect(sender.retryDelaysMs).toEqual([5 * MIN, 20 * MIN, 60 * MIN]);
    expect(ZOOM_RETRY_DELAYS_MS).toBe(sender.retryDelaysMs);
    expect(sender.restampRetries).toBe(true);
  });

  it("sends Zoom's headers and a compact, correctly signed body", async () => {
    const r = await receiver();
    const sender = new ZoomWebhookSender({ targetUrl: r.url, secret: SECRET, clientId: 'client-abc' });
    const payload = { event: 'meeting.started', payload: { object: { topic: 'Reunión' } }, event_ts: Date.now() };
    const before = Math.floor(Date.now() / 1000);
    const outcome = await sender.send(payload);
    const req = r.requests[0]!;
    expect(outcome).toMatchObject({ acked: true, gaveUp: false, cancelled: false });
    expect(req.method).toBe('POST');
    expect(req.body.toString('utf8')).toBe(JSON.stringify(payload));
    expect(req.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(req.headers['user-agent']).toBe('Zoom Marketplace/1.0a');
    expect(header(req, 'x-zm-request-timestamp')).toMatch(/^\d{10}$/);
    expect(Number(header(req, 'x-zm-request-timestamp'))).toBeGreaterThanOrEqual(before);
    expect(header(req, 'x-zm-signature')).toMatch(/^v0=[0-9a-f]{64}$/);
    expect(signatureValid(req)).toBe(true);
    expect(header(req, 'x-zm-request-id')).toMatch(/^[0-9a-f]{8}_[0-9a-f]{4}_[0-9a-f]{4}_[0-9a-f]{4}_[0-9a-f]{12}$/);
    expect(header(req, 'x-zm-trackingid')).toMatch(/^v=2\.0;clid=us02;rid=WEB_[0-9a-f]{32}$/);
    expect(header(req, 'traceparent')).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-02$/);
    expect(req.headers.clientid).toBe('client-abc');
    expect(outcome.attempts).toHaveLength(1);
    expect(outcome.attempts[0]).toMatchObject({
      attempt: 0,
      result: 200,
      ok: true,
      requestId: header(req, 'x-zm-request-id'),
    });
    expect(sender.stats()).toEqual({ attempts: 1, acked: 1, failed: 0, gaveUp: 0 });
  });

  it('accepts a known traceparent, extra headers and overrides (e.g. a forged signature)', async () => {
    const r = await receiver();
    const sender = new ZoomWebhookSender({ targetUrl: r.url, secret: SECRET });
    const traceparent = '00-d514bd0082bc6955a8feb409725166e7-4e872cfdca61bbf4-02';
    await sender.send('{"event":"x"}', { traceparent, headers: { 'X-Zm-Signature': 'v0=bad', 'x-extra': '1' } });
    const req = r.requests[0]!;
    expect(req.headers.traceparent).toBe(traceparent);
    expect(req.headers['x-zm-signature']).toBe('v0=bad');
    expect(req.headers['x-extra']).toBe('1');
  });

  it('counts any 2xx as an ack (204) and a redirect as a failure', async () => {
    const r = await receiver((_req, i) => ({ status: i === 0 ? 302 : 204 }));
    const sender = new ZoomWebhookSender({
      targetUrl: r.url,
      secret: SECRET,
      clock: new FastClock(100_000),
      retryDelaysMs: [MIN],
    });
    const outcome = await sender.send({ event: 'x' });
    expect(outcome.attempts.map((a) => a.result)).toEqual([302, 204]);
    expect(outcome.acked).toBe(true);
  });

  it('retries a 500 after 5 and then 20 more minutes, re-stamped and re-signed', async () => {
    const r = await receiver((_req, i) => ({ status: i < 2 ? 500 : 200 }));
    const clock = new SteppingClock();
    const sender = new ZoomWebhookSender({ targetUrl: r.url, secret: SECRET, clock });
    const outcome = await sender.send({ event: 'meeting.started', event_ts: 1 });

    expect(outcome.acked).toBe(true);
    expect(outcome.attempts.map((a) => a.result)).toEqual([500, 500, 200]);
    const t0 = outcome.attempts[0]!.at;
    const offsets = outcome.attempts.map((a) => (a.at - t0) / MIN);
    // Simulated minutes on a clock that only moves when the sender waits: the schedule exactly.
    expect(offsets).toEqual([0, 5, 25]);

    expect(r.requests).toHaveLength(3);
    const stamps = r.requests.map((q) => Number(header(q, 'x-zm-request-timestamp')));
    expect([stamps[1]! - stamps[0]!, stamps[2]! - stamps[0]!]).toEqual([300, 1500]);
    expect(stamps[0]).toBe(Math.floor(t0 / 1000));
    expect(r.requests.every(signatureValid)).toBe(true);
    expect(new Set(r.requests.map((q) => header(q, 'x-zm-signature'))).size).toBe(3);
    expect(new Set(r.requests.map((q) => header(q, 'x-zm-request-id'))).size).toBe(3);
    // One upstream request: tracking id and trace id stay, the span id changes per attempt.
    expect(new Set(r.requests.map((q) => header(q, 'x-zm-trackingid'))).size).toBe(1);
    expect(new Set(r.requests.map((q) => header(q, 'traceparent').split('-')[1])).size).toBe(1);
    expect(r.requests.every((q) => q.body.equals(r.requests[0]!.body))).toBe(true);
    expect(sender.stats()).toEqual({ attempts: 3, acked: 1, failed: 2, gaveUp: 0 });
  });

  it('can keep the original timestamp and signature on retries (restampRetries: false)', async () => {
    const r = await receiver((_req, i) => ({ status: i < 1 ? 503 : 200 }));
    const sender = new ZoomWebhookSender({
      targetUrl: r.url,
      secret: SECRET,
      clock: new FastClock(5000),
      restampRetries: false,
    });
    await sender.send({ event: 'e' }, { timestampSec: 1740596809 });
    expect(r.requests.map((q) => header(q, 'x-zm-request-timestamp'))).toEqual(['1740596809', '1740596809']);
    expect(header(r.requests[1]!, 'x-zm-signature')).toBe(header(r.requests[0]!, 'x-zm-signature'));
    expect(header(r.requests[1]!, 'x-zm-request-id')).not.toBe(header(r.requests[0]!, 'x-zm-request-id'));
  });

  it('restamps relative to a fixed first timestamp', async () => {
    const r = await receiver((_req, i) => ({ status: i < 1 ? 500 : 200 }));
    const sender = new ZoomWebhookSender({ targetUrl: r.url, secret: SECRET, clock: new SteppingClock() });
    await sender.send({ event: 'e' }, { timestampSec: 1740596809 });
    const [a, b] = r.requests.map((q) => Number(header(q, 'x-zm-request-timestamp')));
    expect([a, b]).toEqual([1740596809, 1740596809 + 300]);
  });

  it('treats no answer within the ack timeout as a failure and gives up after 4 attempts (~85 min)', async () => {
    const r = await receiver(() => ({ hang: true }));
    // 50 ms real = 250 s simulated: below the 5 min gap, so the schedule stays recognisable.
    const sender = new ZoomWebhookSender({
      targetUrl: r.url,
      secret: SECRET,
      clock: new SteppingClock(),
      ackTimeoutMs: 50,
    });
    const outcome = await sender.send({ event: 'e' });
    expect(outcome).toMatchObject({ acked: false, gaveUp: true, cancelled: false });
    expect(outcome.attempts.map((a) => a.result)).toEqual(['timeout', 'timeout', 'timeout', 'timeout']);
    const t0 = outcome.attempts[0]!.at;
    expect((outcome.attempts[3]!.at - t0) / MIN).toBe(85);
    for (const a of outcome.attempts) expect(a.latencyMs).toBeGreaterThanOrEqual(45);
    expect(r.requests).toHaveLength(4);
    expect(sender.stats()).toEqual({ attempts: 4, acked: 0, failed: 4, gaveUp: 1 });
  });

  it('records network errors', async () => {
    const sender = new ZoomWebhookSender({ targetUrl: await closedPortUrl(), secret: SECRET, retryDelaysMs: [] });
    const outcome = await sender.send({ event: 'e' });
    expect(outcome.gaveUp).toBe(true);
    expect(outcome.attempts[0]!.result).toBe('network');
    expect(outcome.attempts[0]!.error).toMatch(/ECONNREFUSED/);
  });

  it('stops the schedule when the signal aborts', async () => {
    const r = await receiver(() => ({ status: 500 }));
    const sender = new ZoomWebhookSender({ targetUrl: r.url, secret: SECRET });
    const ac = new AbortController();
    const pending = sender.send({ event: 'e' }, { signal: ac.signal });
    await new Promise((resolve) => setTimeout(resolve, 100));
    ac.abort();
    const outcome = await pending;
    expect(outcome).toMatchObject({ acked: false, gaveUp: false, cancelled: true });
    expect(r.requests).toHaveLength(1);
  });

  describe('simultaneous duplicates', () => {
    function stripVolatile(body: Buffer): unknown {
      const o = JSON.parse(body.toString('utf8')) as ReturnType<typeof recordingCompleted>;
      delete o.download_token;
      for (const f of o.payload.object.recording_files) (f as { download_url?: string }).download_url = undefined;
      return JSON.parse(JSON.stringify(o)) as unknown;
    }

    it('copies differ only in download_token and download_url, each with its own id and signature', async () => {
      const r = await receiver();
      const sender = new ZoomWebhookSender({ targetUrl: r.url, secret: SECRET });
      const payload = recordingCompleted({
        downloadBaseUrl: 'http://127.0.0.1:9',
        files: [{ size: 10 }, { fileType: 'M4A', size: 5 }],
      });
      const outcomes = await sender.sendCopies(payload, 3);

      expect(outcomes.map((o) => [o.copyIndex, o.acked])).toEqual([
        [0, true],
        [1, true],
        [2, true],
      ]);
      expect(r.requests).toHaveLength(3);
      const arrival = r.requests.map((q) => q.receivedAt);
      expect(Math.max(...arrival) - Math.min(...arrival)).toBeLessThan(1000);
      const bodies = r.requests.map((q) => q.body);
      const stripped = bodies.map(stripVolatile);
      expect(stripped[1]).toEqual(stripped[0]);
      expect(stripped[2]).toEqual(stripped[0]);
      // The original is sent unchanged; the copies carry new tokens and new opaque URL segments.
      expect(bodies.some((b) => b.equals(Buffer.from(JSON.stringify(payload))))).toBe(true);
      const parsed = bodies.map((b) => JSON.parse(b.toString()) as ReturnType<typeof recordingCompleted>);
      expect(new Set(parsed.map((p) => p.download_token)).size).toBe(3);
      for (let f = 0; f < 2; f++) {
        const urls = parsed.map((p) => p.payload.object.recording_files[f]!.download_url);
        expect(new Set(urls).size).toBe(3);
        const fileId = payload.payload.object.recording_files[f]!.id;
        for (const u of urls) expect(u?.startsWith(`http://127.0.0.1:9/rec/webhook_download/${fileId}/`)).toBe(true);
      }
      expect(new Set(r.requests.map((q) => header(q, 'x-zm-request-id'))).size).toBe(3);
      expect(new Set(r.requests.map((q) => header(q, 'x-zm-signature'))).size).toBe(3);
      expect(r.requests.every(signatureValid)).toBe(true);
    });

    it('uses the caller-provided token per copy, and send({ copies }) returns the siblings', async () => {
      const r = await receiver();
      const sender = new ZoomWebhookSender({ targetUrl: r.url, secret: SECRET });
      const payload = recordingCompleted({ downloadBaseUrl: 'http://h', downloadToken: 'tok-0' });
      const outcome = await sender.send(payload, { copies: 2, downloadTokenForCopy: (i) => `tok-${i}` });
      expect(outcome.copyIndex).toBe(0);
      expect(outcome.siblings?.map((s) => s.copyIndex)).toEqual([1]);
      const tokens = r.requests
        .map((q) => (JSON.parse(q.body.toString()) as { download_token: string }).download_token)
        .sort();
      expect(tokens).toEqual(['tok-0', 'tok-1']);
    });

    it('copyVariants gives full control over each body', async () => {
      const r = await receiver();
      const sender = new ZoomWebhookSender({ targetUrl: r.url, secret: SECRET });
      await sender.sendCopies({}, 2, { copyVariants: (i) => `{"copy":${i}}` });
      expect(r.requests.map((q) => q.body.toString()).sort()).toEqual(['{"copy":0}', '{"copy":1}']);
    });
  });

  describe('validateEndpoint (CRC)', () => {
    function crcReceiver(secret: string) {
      return receiver((req) => {
        const plainToken = (JSON.parse(req.body.toString()) as ReturnType<typeof urlValidation>).payload.plainToken;
        return {
          status: 200,
          body: JSON.stringify({ plainToken, encryptedToken: zoomEncryptedToken(secret, plainToken) }),
        };
      });
    }

    it('passes when the endpoint answers with the right HMAC, and sends a signed challenge', async () => {
      const r = await crcReceiver(SECRET);
      const result = await new ZoomWebhookSender({ targetUrl: r.url, secret: SECRET }).validateEndpoint();
      expect(result).toMatchObject({ ok: true, result: 200 });
      expect(signatureValid(r.requests[0]!)).toBe(true);
      expect(JSON.parse(r.requests[0]!.body.toString())).toMatchObject({ event: 'endpoint.url_validation' });
    });

    it('fails on a wrong secret or a non-200', async () => {
      const wrong = await crcReceiver('other-secret');
      expect(await new ZoomWebhookSender({ targetUrl: wrong.url, secret: SECRET }).validateEndpoint()).toMatchObject({
        ok: false,
        reason: 'encryptedToken does not match the secret',
      });
      const failing = await receiver(() => ({ status: 401 }));
      expect(await new ZoomWebhookSender({ targetUrl: failing.url, secret: SECRET }).validateEndpoint()).toMatchObject({
        ok: false,
        result: 401,
      });
    });
  });
});
