/**
 * Fuzzing the ingress over real HTTP and a real Kafka broker (issue: reliability). A bounded number of
 * random and mutated requests: the ingress never crashes, never answers 5xx (503 only while the log is
 * down, which it is not here), always answers JSON, and appends nothing without a valid signature.
 */
import * as fc from 'fast-check';
import { TOPICS } from '@zoom-pipeline/contracts';
import { type AppProcess, loadEndpoints, startApp, topicSize } from '@zoom-pipeline/test-support';
import { signDelivery } from '@zoom-pipeline/zoom-webhook';

jest.setTimeout(300_000);

const SECRET = 'fuzz-secret';
const RUNS = Number(process.env.ZP_FUZZ_RUNS ?? 300);
let app: AppProcess;

beforeAll(async () => {
  app = await startApp(
    'ingress',
    {
      KAFKA_BROKERS: loadEndpoints().kafkaBrokers,
      ZOOM_WEBHOOK_SECRET_TOKEN: SECRET,
      MAX_BODY_BYTES: '64KiB',
      LOG_LEVEL: 'warn',
    },
    { waitFor: 'readyz' },
  );
});

afterAll(async () => {
  await app?.kill('SIGTERM');
});

const validBody = (n: number) =>
  JSON.stringify({
    event: 'meeting.started',
    payload: { account_id: 'acct', object: { uuid: `fuzz-${n}==`, id: String(n) } },
    event_ts: Date.now(),
  });

const headerValue = fc.oneof(
  fc.string(),
  fc.constant(''),
  fc.stringMatching(/^v0=[0-9a-f]{0,70}$/),
  fc.integer().map(String),
  fc.constant('v0=' + 'f'.repeat(64)),
);
const contentType = fc.constantFrom(
  'application/json',
  'application/json; charset=utf-8',
  'text/plain',
  'application/x-www-form-urlencoded',
  'application/cloudevents+json',
  '',
  'multipart/form-data; boundary=x',
);
const body = fc.oneof(
  fc.string({ maxLength: 2000 }),
  fc.uint8Array({ maxLength: 4000 }).map((a) => Buffer.from(a)),
  fc.json({ maxDepth: 4 }),
  fc.nat(1000).map(validBody),
  fc.integer({ min: 60 * 1024, max: 200 * 1024 }).map((n) => 'x'.repeat(n)),
);

type Case = {
  body: string | Buffer;
  ct: string;
  sig?: string;
  ts?: string;
  mutate: 'none' | 'flip' | 'resign_other' | 'stale';
  path: string;
};
const caseArb: fc.Arbitrary<Case> = fc.record({
  body,
  ct: contentType,
  sig: fc.option(headerValue, { nil: undefined }),
  ts: fc.option(fc.oneof(headerValue, fc.constant(String(Math.floor(Date.now() / 1000)))), { nil: undefined }),
  mutate: fc.constantFrom('none', 'flip', 'resign_other', 'stale'),
  path: fc.constantFrom('/webhooks/zoom', '/webhooks/zoom/other', '/webhooks/zoom/../zoom', '/webhooks/zoom?x=1'),
});

describe('ingress fuzzing (real Kafka)', () => {
  it(`survives ${RUNS} random and mutated requests and appends nothing unsigned`, async () => {
    const before = await topicSize(TOPICS.raw);
    let appended = 0; // requests that were validly signed and accepted
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        const raw = Buffer.isBuffer(c.body) ? c.body : Buffer.from(c.body);
        const headers: Record<string, string> = {};
        if (c.ct) headers['content-type'] = c.ct;
        const now = String(Math.floor(Date.now() / 1000));
        // Half the cases start from a correct signature and then break it on purpose.
        let signedOk = false;
        if (c.sig === undefined && c.ts === undefined) {
          headers['x-zm-request-timestamp'] = c.mutate === 'stale' ? String(Number(now) - 3 * 3600) : now;
          const key = c.mutate === 'resign_other' ? 'another-secret' : SECRET;
          headers['x-zm-signature'] = signDelivery(key, headers['x-zm-request-timestamp'], raw);
          if (c.mutate === 'flip' && raw.length > 0) raw[raw.length >> 1] ^= 0x01;
          signedOk = c.mutate === 'none';
        } else {
          if (c.sig !== undefined) headers['x-zm-signature'] = c.sig;
          if (c.ts !== undefined) headers['x-zm-request-timestamp'] = c.ts;
        }
        let res: Response;
        try {
          res = await fetch(`${app.url}${c.path}`, { method: 'POST', headers, body: raw });
        } catch (err) {
          throw new Error(`ingress connection failed (crash?): ${(err as Error).message}`, { cause: err });
        }
        const text = await res.text();
        expect(res.status).toBeLessThan(500);
        expect(() => JSON.parse(text)).not.toThrow();
        if (res.status === 200 && !JSON.parse(text).plainToken) {
          // Only a correctly signed, JSON, event-bearing body on a known path may be accepted.
          expect(signedOk).toBe(true);
          appended++;
        }
      }),
      { numRuns: RUNS, seed: Number(process.env.ZP_FUZZ_SEED ?? Date.now() % 2 ** 31) },
    );
    expect((await fetch(`${app.url}/healthz`)).status).toBe(200);
    expect(app.child.exitCode).toBeNull();
    expect((await topicSize(TOPICS.raw)) - before).toBe(appended);
  });
});
