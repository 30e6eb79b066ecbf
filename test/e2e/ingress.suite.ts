/**
 * Ingress against a real Kafka broker, the app as a process (issue: ingress). SPEC §3, invariants 1, 2.
 * Run once per publish client (KAFKA_PUBLISH_CLIENT) by ingress.e2e-spec.ts (platformatic, the default) and
 * ingress-kafkajs.e2e-spec.ts:
 * both clients must keep every guarantee.
 */
import { execFileSync } from 'node:child_process';
import * as net from 'node:net';
import * as path from 'node:path';
import { TOPICS, decodeRawDelivery } from '@zoom-pipeline/contracts';
import {
  type AppProcess,
  REPO_ROOT,
  type ReadRecord,
  loadEndpoints,
  readTopic,
  startApp,
  topicMark,
  topicSize,
  waitFor,
} from '@zoom-pipeline/test-support';
import { signDelivery } from '@zoom-pipeline/zoom-webhook';

jest.setTimeout(180_000);

const SECRET = 'e2e-secret-token-new';
const OLD_SECRET = 'e2e-secret-token-old';
const infra = (...args: string[]) =>
  execFileSync('bash', [path.join(REPO_ROOT, 'scripts/infra.sh'), ...args], { stdio: 'pipe' });

let app: AppProcess;

function meetingUuid(): string {
  return Buffer.from(Array.from({ length: 16 }, () => Math.floor(Math.random() * 256))).toString('base64');
}

function body(event: string, uuid: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    event,
    payload: { account_id: 'acct-e2e', object: { uuid, id: 85746065123, topic: 'Reunión — Q1' } },
    event_ts: Date.now(),
    ...extra,
  });
}

async function post(
  raw: string | Buffer,
  opts: { secret?: string; ts?: number; headers?: Record<string, string>; path?: string; sign?: boolean } = {},
): Promise<Response> {
  const ts = String(opts.ts ?? Math.floor(Date.now() / 1000));
  const headers: Record<string, string> = {
    'content-type': 'application/json; charset=utf-8',
    'x-zm-request-timestamp': ts,
  };
  if (opts.sign !== false) headers['x-zm-signature'] = signDelivery(opts.secret ?? SECRET, ts, raw);
  return fetch(`${app.url}${opts.path ?? '/webhooks/zoom'}`, {
    method: 'POST',
    headers: { ...headers, ...opts.headers },
    body: raw,
  });
}

/** One request on a fresh loopback connection (head, then body in 64 KiB writes), read until the server closes. */
function rawRequest(
  head: string,
  bodyBytes: Buffer = Buffer.alloc(0),
): Promise<{ status: number; json?: { error?: string; message?: string }; error?: string }> {
  return new Promise((resolve) => {
    const socket = net.connect(app.port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let error: string | undefined;
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', (e: NodeJS.ErrnoException) => (error = e.code ?? e.message));
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      let json: { error?: string; message?: string } | undefined;
      try {
        json = JSON.parse(text.slice(split + 4)) as typeof json;
      } catch {
        json = undefined;
      }
      resolve({ status: Number(text.split(' ')[1] ?? 0), json, error });
    });
    socket.on('connect', () => {
      socket.write(head);
      for (let i = 0; i < bodyBytes.length; i += 65_536) socket.write(bodyBytes.subarray(i, i + 65_536));
      socket.end();
    });
  });
}

/**
 * The delivery id of a record of the shared zoom.webhooks.raw, or undefined for a record this test cannot decode:
 * other suites and the benchmarks write there too, and what they write is not this test's business.
 */
function deliveryIdOf(r: ReadRecord): string | undefined {
  try {
    return decodeRawDelivery(r.value, r.headers).id;
  } catch {
    return undefined;
  }
}

export function ingressSuite(publishClient: 'kafkajs' | 'platformatic'): void {
  beforeAll(async () => {
    app = await startApp(
      'ingress',
      {
        KAFKA_BROKERS: loadEndpoints().kafkaBrokers,
        ZOOM_WEBHOOK_SECRET_TOKEN: `${SECRET},${OLD_SECRET}`,
        ZOOM_WEBHOOK_SECRET_TOKEN_SALES: 'sales-secret',
        MAX_BODY_BYTES: '64KiB',
        KAFKA_PUBLISH_CLIENT: publishClient,
      },
      { waitFor: 'readyz' },
    );
  });

  afterAll(async () => {
    await app?.kill('SIGTERM');
  });

  describe(`ingress with real Kafka (publish client ${publishClient})`, () => {
    it(
      'acknowledges a signed delivery only once it is on ' + 'zoom.webhooks.raw, byte for byte, keyed by meeting UUID',
      async () => {
        const uuid = meetingUuid();
        const raw = body('recording.completed', uuid, { download_token: 'tok-abc' });
        const mark = await topicMark(TOPICS.raw);
        const res = await post(raw, {
          headers: {
            traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-02',
            'x-zm-trackingid': 'v=2.0;clid=us02;rid=WEB_1',
          },
        });
        expect(res.status).toBe(200);
        const { id } = (await res.json()) as { id: string };
        const records = await readTopic(TOPICS.raw, { from: mark });
        const mine = records.filter((r) => deliveryIdOf(r) === id);
        expect(mine).toHaveLength(1);
        // The record's value is Zoom's body, byte for byte (format 2); what we know about it is in the zp-delivery
        // header.
        expect(mine[0].value.equals(Buffer.from(raw, 'utf8'))).toBe(true);
        expect(mine[0].headers['zp-delivery-id']).toBe(id);
        // Never the signature (or anything secret-derived) next to the body.
        expect(mine[0].headers['zp-delivery']).not.toMatch(/signature|v0=/i);
        const delivery = decodeRawDelivery(mine[0].value, mine[0].headers);
        expect(delivery.v).toBe(2);
        expect(delivery.headers.timestamp).toMatch(/^\d+$/);
        expect(delivery.headers.traceparent).toBe('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-02');
        expect(delivery.body).toBe(raw);
        expect(mine[0].key).toBe(uuid);
        expect(delivery.event).toBe('recording.completed');
        expect(delivery.headers.trackingId).toBe('v=2.0;clid=us02;rid=WEB_1');
        expect(mine[0].headers.traceparent).toBe('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-02');
      },
    );

    it('accepts a delivery signed with the previous secret (rotation)', async () => {
      expect((await post(body('meeting.started', meetingUuid()), { secret: OLD_SECRET })).status).toBe(200);
    });

    it('answers endpoint.url_validation with the secret that verified it and appends nothing', async () => {
      const before = await topicSize(TOPICS.raw);
      const raw =
        '{"payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"},' +
        '"event_ts":1740596809123,"event":"endpoint.url_validation"}';
      const res = await post(raw, { path: '/webhooks/zoom/sales', secret: 'sales-secret' });
      expect(res.status).toBe(200);
      const answer = (await res.json()) as { plainToken: string; encryptedToken: string };
      expect(answer.plainToken).toBe('qgg8vlvZRS6UYooatFL8Aw');
      const { createHmac } = await import('node:crypto');
      expect(answer.encryptedToken).toBe(
        createHmac('sha256', 'sales-secret').update('qgg8vlvZRS6UYooatFL8Aw').digest('hex'),
      );
      expect(await topicSize(TOPICS.raw)).toBe(before);
    });

    const uuid = meetingUuid();
    const cases: Array<[string, () => Promise<Response>, number, string]> = [
      ['no signature', () => post(body('meeting.started', uuid), { sign: false }), 401, 'signature_missing'],
      [
        'a malformed signature',
        () => post(body('meeting.started', uuid), { headers: { 'x-zm-signature': 'sha256=abc' } }),
        401,
        'signature_malformed',
      ],
      [
        'a wrong secret',
        () => post(body('meeting.started', uuid), { secret: 'not-the-secret' }),
        401,
        'signature_mismatch',
      ],
      [
        'a re-serialised body',
        () =>
          post(JSON.stringify(JSON.parse(body('meeting.started', uuid)), null, 2), {
            headers: {
              'x-zm-signature': signDelivery(
                SECRET,
                String(Math.floor(Date.now() / 1000)),
                body('meeting.started', uuid),
              ),
            },
          }),
        401,
        'signature_mismatch',
      ],
      [
        'a stale timestamp',
        () => post(body('meeting.started', uuid), { ts: Math.floor(Date.now() / 1000) - 3 * 3600 }),
        401,
        'timestamp_stale',
      ],
      [
        "another app's secret",
        () => post(body('meeting.started', uuid), { secret: 'sales-secret' }),
        401,
        'signature_mismatch',
      ],
      ['a signed body that is not JSON', () => post('not json at all'), 400, 'body_not_json'],
      ['a signed JSON body without event', () => post('{"payload":{}}'), 400, 'event_missing'],
      [
        'a body over MAX_BODY_BYTES',
        () => post(body('meeting.started', uuid, { pad: 'x'.repeat(70 * 1024) })),
        413,
        'body_too_large',
      ],
      [
        'a non-JSON content type',
        () => post(body('meeting.started', uuid), { headers: { 'content-type': 'text/plain' } }),
        415,
        'unsupported_media_type',
      ],
      [
        'an unknown app path',
        () => post(body('meeting.started', uuid), { path: '/webhooks/zoom/nope' }),
        404,
        'unknown_app',
      ],
      // App names are own, exact-case keys: no Object.prototype member and no other casing finds an app.
      ...['constructor', '__proto__', 'toString', 'hasOwnProperty', 'DEFAULT', 'SALES', 'Sales'].map(
        (segment): [string, () => Promise<Response>, number, string] => [
          `the app path /webhooks/zoom/${segment}`,
          () => post(body('meeting.started', uuid), { path: `/webhooks/zoom/${segment}` }),
          404,
          'unknown_app',
        ],
      ),
      // The body rule dedup applies too: refused here, never acknowledged and then dead-lettered.
      [
        'a signed body starting with a UTF-8 BOM',
        () => post(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(body('meeting.started', uuid))])),
        400,
        'body_bom',
      ],
      [
        'a signed body nested 5,000 levels deep',
        () =>
          post(
            `{"event":"recording.completed","payload":{"object":{"uuid":"${uuid}"},` +
              `"notes":${'['.repeat(5_000)}${']'.repeat(5_000)}}}`,
          ),
        400,
        'body_too_deep',
      ],
    ];
    it.each(cases)('refuses %s with a JSON error and appends nothing', async (_name, send, status, code) => {
      const before = await topicSize(TOPICS.raw);
      const res = await send();
      expect(res.status).toBe(status);
      expect(res.headers.get('content-type')).toMatch(/application\/json/);
      const json = (await res.json()) as { error: string; message: string };
      expect(json.error).toBe(code);
      expect(typeof json.message).toBe('string');
      expect(json.message.length).toBeGreaterThan(5);
      // A 401 never carries a computed signature or any secret-derived value.
      expect(JSON.stringify(json)).not.toMatch(/[0-9a-f]{32,}/);
      expect(await topicSize(TOPICS.raw)).toBe(before);
    });

    it('counts a signed delivery of an unknown event under event="other", never its name', async () => {
      const odd = `zz.custom_${'x'.repeat(40)}`;
      expect((await post(JSON.stringify({ event: odd, payload: { account_id: 'acct-e2e' } }))).status).toBe(200);
      const metrics = await (await fetch(`${app.url}/metrics`)).text();
      const lines = metrics.split('\n').filter((l) => l.startsWith('zoom_webhook_deliveries_total{'));
      expect(lines.some((l) => l.includes('event="other"') && l.includes('outcome="accepted"'))).toBe(true);
      expect(metrics).not.toContain(odd);
    });

    it('answers errors raised before any route in the SPEC shape, over raw sockets', async () => {
      const cases: Array<[string, number, string]> = [
        [`POST /webhooks/zoom HTTP/1.1\r\nHost: t\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431, 'headers_too_large'],
        [
          'POST /webhooks/zoom HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: abc\r\n\r\n',
          400,
          'bad_framing',
        ],
        ['GET /webhooks/%zz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n', 400, 'bad_url'],
        ['GET /webhooks/zoom HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n', 405, 'method_not_allowed'],
        ['GET /nowhere HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n', 404, 'not_found'],
      ];
      for (const [head, status, code] of cases) {
        const answer = await rawRequest(head);
        expect({ status: answer.status, error: answer.error, json: answer.json }).toEqual({
          status,
          error: undefined,
          json: { error: code, message: expect.any(String) },
        });
      }
    });

    it('answers every one of 10 posts of 5 MiB with 413 body_too_large, never a connection reset', async () => {
      const fiveMiB = Buffer.alloc(5 * 1024 * 1024, 0x78);
      const before = await topicSize(TOPICS.raw);
      for (let i = 0; i < 10; i++) {
        const answer = await rawRequest(
          'POST /webhooks/zoom HTTP/1.1\r\nHost: t\r\nContent-Type: ' +
            `application/json\r\nContent-Length: ${fiveMiB.length}\r\n\r\n`,
          fiveMiB,
        );
        expect({ i, status: answer.status, error: answer.error, code: answer.json?.error }).toEqual({
          i,
          status: 413,
          error: undefined,
          code: 'body_too_large',
        });
      }
      expect(await topicSize(TOPICS.raw)).toBe(before);
    });

    it('routes every delivery of one meeting to one partition', async () => {
      const uuid2 = meetingUuid();
      const ids: string[] = [];
      const mark = await topicMark(TOPICS.raw);
      for (const event of ['meeting.started', 'meeting.participant_joined', 'meeting.ended', 'recording.completed']) {
        const res = await post(body(event, uuid2));
        expect(res.status).toBe(200);
        ids.push(((await res.json()) as { id: string }).id);
      }
      const records = (await readTopic(TOPICS.raw, { from: mark })).filter((r) => ids.includes(deliveryIdOf(r) ?? ''));
      expect(records).toHaveLength(4);
      expect(new Set(records.map((r) => r.partition)).size).toBe(1);
    });

    it(
      'answers 503 with Retry-After within the ack deadline while the ' +
        'broker is down, and 200 again once it is back',
      async () => {
        infra('stop', 'kafka');
        try {
          const started = Date.now();
          const res = await post(body('meeting.started', meetingUuid()));
          const elapsed = Date.now() - started;
          expect(res.status).toBe(503);
          expect(res.headers.get('retry-after')).toBe('5');
          expect(((await res.json()) as { error: string }).error).toBe('log_unavailable');
          // Zoom gives up after 3 s: the answer must come before that.
          expect(elapsed).toBeLessThan(3_000);
          expect((await fetch(`${app.url}/readyz`)).status).toBe(503);
        } finally {
          infra('start', 'kafka');
        }
        await waitFor(
          'ingress to accept again',
          async () => (await post(body('meeting.started', meetingUuid()))).status === 200,
          60_000,
          500,
        );
      },
    );
  });

  describe(`no acknowledged delivery is lost when the ingress is killed (publish client ${publishClient})`, () => {
    it('every delivery acknowledged before SIGKILL is on the topic exactly once', async () => {
      const uuid = meetingUuid();
      const acked: string[] = [];
      const mark = await topicMark(TOPICS.raw);
      const sends = Array.from({ length: 300 }, (_, i) =>
        post(body('meeting.participant_joined', uuid, { seq: i })).then(
          async (res) => {
            if (res.status === 200) acked.push(((await res.json()) as { id: string }).id);
          },
          () => undefined,
        ),
      );
      // Kill while requests are in flight: some are acknowledged, some are not; none acknowledged may be lost.
      await waitFor('some acknowledgements', async () => acked.length >= 50, 30_000, 5);
      await app.kill('SIGKILL');
      await Promise.all(sends);
      const seen = new Map<string, number>();
      for (const r of await readTopic(TOPICS.raw, { from: mark })) {
        const id = deliveryIdOf(r);
        if (id) seen.set(id, (seen.get(id) ?? 0) + 1);
      }
      const missing = acked.filter((id) => !seen.has(id));
      const doubled = acked.filter((id) => (seen.get(id) ?? 0) > 1);
      expect({ acked: acked.length >= 50, missing, doubled }).toEqual({ acked: true, missing: [], doubled: [] });
    });
  });
}
