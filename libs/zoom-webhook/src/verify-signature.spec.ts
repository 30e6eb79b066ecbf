import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import {
  type VerifyFailure,
  type VerifyInput,
  describeVerifyFailure,
  signDelivery,
  verifySignature,
} from './verify-signature';

/** docs/ZOOM-FACTS.md §9 fixtures: $ZOOM_FIXTURES_DIR, else the repository copy. */
function zoomFixtureDir(): string {
  const candidates = [process.env.ZOOM_FIXTURES_DIR, path.resolve(__dirname, '../../../test/zoom-sim/fixtures')];
  const dir = candidates.find((d): d is string => d !== undefined && fs.existsSync(d));
  if (dir === undefined) throw new Error('Zoom fixtures not found; set ZOOM_FIXTURES_DIR');
  return dir;
}

const SECRET = 'test-secret-token';
const TS = '1740596809';
const AT_TS = 1740596809_000;
const TWO_HOURS = 2 * 3_600_000;

// docs/ZOOM-FACTS.md §8, copied byte for byte.
const V1_BODY =
  '{"event":"meeting.started","payload":{"account_id":"AcctTest123",' +
  '"object":{"uuid":"4444AAAiAAAAAiAiAiiAii==","id":"85746065123"}},"event_ts":1740596809123}';
const V1_SIG = 'v0=2915170b503538bb2343a7fb98be75ca964c277d2bdc3e00451c7649254cc4f4';
const V3_BODY =
  '{"payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"},"event_ts":1740596809123,"event":"endpoint.url_validation"}';
const V3_SIG = 'v0=c7d851eab963e805a5affbac7e6c231f622667230ecff14ef8ff76aab0ab466f';
const V4_PRETTY_SIG = 'v0=9385f9ee982f9af64ab23c50f7944100da9ee275616ccb92f109b59386e4c142';
const V5_BODY =
  '{"event":"meeting.started","payload":{"account_id":"AcctTest123","object":{"topic":"Reunión — ' +
  'Q1","uuid":"/ab+cd//ef==","id":85746065123}},"event_ts":1740596809123}';
const V5_SIG = 'v0=e9f58e7204ae984fd75981b1e9a37ec2ac1d435d6a497e16c62579f403c8c6dc';
const V5_LATIN1_SIG = 'v0=d73fb27777a5d90844555af550b018baa28c4a0419aa3ebc40d5cda3385000d6';

function input(overrides: Partial<VerifyInput> = {}): VerifyInput {
  return {
    rawBody: Buffer.from(V1_BODY, 'utf8'),
    signature: V1_SIG,
    timestamp: TS,
    secrets: [SECRET],
    nowMs: AT_TS + 500,
    toleranceMs: TWO_HOURS,
    ...overrides,
  };
}

function reasonOf(i: VerifyInput): VerifyFailure | 'ok' {
  const r = verifySignature(i);
  return r.ok ? 'ok' : r.reason;
}

describe('docs/ZOOM-FACTS.md §8 test vectors', () => {
  it('V1: signs the delivery body to the published signature and verifies it', () => {
    const body = Buffer.from(V1_BODY, 'utf8');
    expect(body.length).toBe(155);
    expect(signDelivery(SECRET, TS, body)).toBe(V1_SIG);
    expect(verifySignature(input())).toEqual({ ok: true, secretIndex: 0, skewMs: 500 });
  });

  it('V3: verifies the signed url_validation challenge', () => {
    expect(Buffer.byteLength(V3_BODY)).toBe(110);
    expect(signDelivery(SECRET, TS, V3_BODY)).toBe(V3_SIG);
    expect(reasonOf(input({ rawBody: Buffer.from(V3_BODY), signature: V3_SIG }))).toBe('ok');
  });

  it('V4: a re-serialised body no longer verifies (the HMAC is over the raw bytes)', () => {
    const pretty = JSON.stringify(JSON.parse(V1_BODY), null, 2);
    expect(signDelivery(SECRET, TS, pretty)).toBe(V4_PRETTY_SIG);
    expect(reasonOf(input({ rawBody: Buffer.from(pretty) }))).toBe('signature_mismatch');

    const escaped = '{"t":"caf\\u00e9","u":"a\\/b"}';
    const reparsed = JSON.stringify(JSON.parse(escaped));
    expect(reparsed).toBe('{"t":"café","u":"a/b"}');
    const sig = signDelivery(SECRET, TS, escaped);
    expect(reasonOf(input({ rawBody: Buffer.from(escaped), signature: sig }))).toBe('ok');
    expect(reasonOf(input({ rawBody: Buffer.from(reparsed), signature: sig }))).toBe('signature_mismatch');
  });

  it('V5: a non-ASCII body verifies over its UTF-8 bytes, and a latin1 decoding does not', () => {
    const body = Buffer.from(V5_BODY, 'utf8');
    expect(body.length).toBe(167);
    expect(signDelivery(SECRET, TS, body)).toBe(V5_SIG);
    expect(signDelivery(SECRET, TS, body.toString('utf8'))).toBe(V5_SIG);
    expect(signDelivery(SECRET, TS, body.toString('latin1'))).toBe(V5_LATIN1_SIG);
    expect(reasonOf(input({ rawBody: body, signature: V5_SIG }))).toBe('ok');
    expect(reasonOf(input({ rawBody: body, signature: V5_LATIN1_SIG }))).toBe('signature_mismatch');
  });
});

describe('docs/ZOOM-FACTS.md §9 fixtures, compacted as Zoom sends them', () => {
  const table: Array<[file: string, bytes: number, timestamp: string, signature: string]> = [
    ['app_deauthorized.json', 304, '1740647564', 'v0=1b9e13fead41a5f5ee8ec16220e634c06679484ead2826161f2304443504f3a6'],
    [
      'endpoint.url_validation.json',
      110,
      '1740596809',
      'v0=c7d851eab963e805a5affbac7e6c231f622667230ecff14ef8ff76aab0ab466f',
    ],
    ['meeting.ended.json', 402, '1740596472', 'v0=03f433105cad00308fe7adf7f6fd62edc98693c6e4b4541103780093e8a529ba'],
    [
      'meeting.participant_joined.json',
      644,
      '1740592831',
      'v0=c92200ef1bc072685e4f683d1402809b11a7e030ee0fe6f475cc345a1d22932e',
    ],
    [
      'meeting.participant_left.json',
      769,
      '1740596292',
      'v0=8f9120fef08e4675ce910db7dd47f8dfa14ff219594394b3698ee7a387e25609',
    ],
    [
      'meeting.rtms_started.json',
      275,
      '1740592807',
      'v0=df43dcc30e7ff76ea2c74cb44d8c77e3034a066a4c14170db4304819d918d107',
    ],
    [
      'meeting.rtms_stopped.json',
      217,
      '1740596472',
      'v0=d5c7017f291bcfd207955d8578764994ba00e0eb42ed45e54b1d50d669169e3c',
    ],
    ['meeting.started.json', 370, '1740592805', 'v0=26a45d0a98802b704249a27217162864a5243460fcc7c53b7d0382efbc2dc6ea'],
    [
      'recording.completed.json',
      2861,
      '1740596809',
      'v0=e9a6e511c2d4f7ce04e1fd4796bc843109903f0175c7561c3bba24bd41376088',
    ],
    [
      'recording.transcript_completed.json',
      1442,
      '1740597242',
      'v0=265ca71450de8abeac4a558363b1edc4c97fa62ea08943a4e3f7fcf866fbefff',
    ],
  ];

  it.each(table)('%s (%d bytes) verifies with timestamp %s', (file, bytes, timestamp, signature) => {
    const compact = Buffer.from(
      JSON.stringify(JSON.parse(fs.readFileSync(path.join(zoomFixtureDir(), file), 'utf8'))),
      'utf8',
    );
    expect(compact.length).toBe(bytes);
    expect(signDelivery(SECRET, timestamp, compact)).toBe(signature);
    const r = verifySignature({
      rawBody: compact,
      signature,
      timestamp,
      secrets: [SECRET],
      nowMs: Number(timestamp) * 1000 + 840,
      toleranceMs: TWO_HOURS,
    });
    expect(r).toEqual({ ok: true, secretIndex: 0, skewMs: 840 });
  });
});

describe('verifySignature', () => {
  describe('secret rotation', () => {
    it('accepts a delivery signed with the second configured secret and says which one matched', () => {
      expect(verifySignature(input({ secrets: ['the-new-secret', SECRET] }))).toMatchObject({
        ok: true,
        secretIndex: 1,
      });
    });

    it('reports the first matching secret when the same secret is configured twice', () => {
      expect(verifySignature(input({ secrets: [SECRET, SECRET] }))).toMatchObject({ ok: true, secretIndex: 0 });
    });

    it('refuses when no configured secret matches, or none is configured', () => {
      expect(reasonOf(input({ secrets: ['old-a', 'old-b'] }))).toBe('signature_mismatch');
      expect(reasonOf(input({ secrets: [] }))).toBe('signature_mismatch');
    });

    it('never lets an empty secret authenticate a delivery', () => {
      const forged = signDelivery('', TS, V1_BODY);
      expect(reasonOf(input({ signature: forged, secrets: ['', SECRET] }))).toBe('signature_mismatch');
    });
  });

  it('accepts uppercase hex (lenient on case, strict on length)', () => {
    expect(reasonOf(input({ signature: 'v0=' + V1_SIG.slice(3).toUpperCase() }))).toBe('ok');
  });

  it.each<[string, Partial<VerifyInput>, VerifyFailure]>([
    ['no signature header', { signature: undefined }, 'signature_missing'],
    ['an empty signature header', { signature: '' }, 'signature_missing'],
    ['a signature without the v0= prefix', { signature: V1_SIG.slice(3) }, 'signature_malformed'],
    ['a v1= signature', { signature: 'v1=' + V1_SIG.slice(3) }, 'signature_malformed'],
    ['a signature one hex char short', { signature: V1_SIG.slice(0, -1) }, 'signature_malformed'],
    ['a signature one hex char long', { signature: V1_SIG + 'a' }, 'signature_malformed'],
    ['a non-hex character', { signature: V1_SIG.slice(0, -1) + 'g' }, 'signature_malformed'],
    ['surrounding whitespace', { signature: ` ${V1_SIG}` }, 'signature_malformed'],
    [
      'a base64 digest',
      { signature: 'v0=' + Buffer.from(V1_SIG.slice(3), 'hex').toString('base64') },
      'signature_malformed',
    ],
    ['no timestamp header', { timestamp: undefined }, 'timestamp_missing'],
    ['an empty timestamp header', { timestamp: '' }, 'timestamp_missing'],
    ['a timestamp in milliseconds', { timestamp: '1740596809123' }, 'timestamp_malformed'],
    ['a negative timestamp', { timestamp: '-1740596809' }, 'timestamp_malformed'],
    ['a fractional timestamp', { timestamp: '1740596809.5' }, 'timestamp_malformed'],
    ['an ISO date as timestamp', { timestamp: '2025-02-26T19:06:49Z' }, 'timestamp_malformed'],
    ['a timestamp with a colon (would shift the signed message)', { timestamp: '1740596809:' }, 'timestamp_malformed'],
    ['another timestamp than the one signed', { timestamp: '1740596810' }, 'signature_mismatch'],
  ])('refuses %s', (_name, overrides, reason) => {
    expect(reasonOf(input(overrides))).toBe(reason);
  });

  it('checks header presence before anything else, so a missing signature is never reported as stale', () => {
    expect(reasonOf(input({ signature: undefined, timestamp: undefined }))).toBe('signature_missing');
    expect(reasonOf(input({ signature: 'nonsense', timestamp: undefined }))).toBe('signature_malformed');
    expect(reasonOf(input({ timestamp: 'abc', nowMs: 0 }))).toBe('timestamp_malformed');
  });

  describe('timestamp tolerance', () => {
    it('tells a correctly signed but stale delivery (with its skew) apart from a forged one', () => {
      const late = AT_TS + TWO_HOURS + 1;
      expect(verifySignature(input({ nowMs: late }))).toEqual({
        ok: false,
        reason: 'timestamp_stale',
        skewMs: TWO_HOURS + 1,
      });
      expect(reasonOf(input({ nowMs: late, secrets: ['wrong'] }))).toBe('signature_mismatch');
    });

    it('accepts exactly the tolerance on either side and refuses one millisecond beyond', () => {
      expect(verifySignature(input({ nowMs: AT_TS + TWO_HOURS }))).toMatchObject({ ok: true, skewMs: TWO_HOURS });
      expect(verifySignature(input({ nowMs: AT_TS - TWO_HOURS }))).toMatchObject({ ok: true, skewMs: -TWO_HOURS });
      expect(reasonOf(input({ nowMs: AT_TS - TWO_HOURS - 1 }))).toBe('timestamp_stale');
    });

    it('covers the whole 85-minute Zoom retry span with the default 2 h tolerance', () => {
      expect(reasonOf(input({ nowMs: AT_TS + 85 * 60_000 }))).toBe('ok');
    });

    it('reports negative skew when the header is ahead of our clock', () => {
      expect(verifySignature(input({ nowMs: AT_TS - 15 }))).toMatchObject({ ok: true, skewMs: -15 });
    });
  });

  describe('properties', () => {
    const secretArb = fc.string({ minLength: 1, maxLength: 64 });
    const tsArb = fc.integer({ min: 1_000_000_000, max: 9_999_999_999 }).map(String);
    const bodyArb = fc.uint8Array({ minLength: 0, maxLength: 2048 }).map((a) => Buffer.from(a));
    const at = (ts: string) => Number(ts) * 1000;

    it('any body signed with any secret verifies, also next to other secrets', () => {
      fc.assert(
        fc.property(bodyArb, secretArb, tsArb, fc.array(secretArb, { maxLength: 3 }), (body, secret, ts, others) => {
          const secrets = [...others.filter((s) => s !== secret), secret];
          const r = verifySignature({
            rawBody: body,
            signature: signDelivery(secret, ts, body),
            timestamp: ts,
            secrets,
            nowMs: at(ts),
            toleranceMs: 1000,
          });
          expect(r).toEqual({ ok: true, secretIndex: secrets.length - 1, skewMs: 0 });
        }),
      );
    });

    it('flipping any bit of any body byte fails', () => {
      fc.assert(
        fc.property(
          bodyArb.filter((b) => b.length > 0),
          secretArb,
          tsArb,
          fc.nat(),
          fc.integer({ min: 0, max: 7 }),
          (body, secret, ts, pos, bit) => {
            const signature = signDelivery(secret, ts, body);
            const tampered = Buffer.from(body);
            const i = pos % tampered.length;
            tampered[i] = (tampered[i] ?? 0) ^ (1 << bit);
            expect(
              reasonOf({
                rawBody: tampered,
                signature,
                timestamp: ts,
                secrets: [secret],
                nowMs: at(ts),
                toleranceMs: 1000,
              }),
            ).toBe('signature_mismatch');
          },
        ),
      );
    });

    it('appending or removing a byte fails', () => {
      fc.assert(
        fc.property(
          bodyArb.filter((b) => b.length > 0),
          secretArb,
          tsArb,
          fc.integer({ min: 0, max: 255 }),
          (body, secret, ts, extra) => {
            const signature = signDelivery(secret, ts, body);
            const base = { signature, timestamp: ts, secrets: [secret], nowMs: at(ts), toleranceMs: 1000 };
            expect(reasonOf({ ...base, rawBody: Buffer.concat([body, Buffer.from([extra])]) })).toBe(
              'signature_mismatch',
            );
            expect(reasonOf({ ...base, rawBody: body.subarray(0, body.length - 1) })).toBe('signature_mismatch');
          },
        ),
      );
    });

    it('changing the timestamp fails even when the new one is within tolerance', () => {
      fc.assert(
        fc.property(
          bodyArb,
          secretArb,
          tsArb,
          fc.integer({ min: -3600, max: 3600 }).filter((d) => d !== 0),
          (body, secret, ts, delta) => {
            const signature = signDelivery(secret, ts, body);
            const other = String(Number(ts) + delta);
            expect(
              reasonOf({
                rawBody: body,
                signature,
                timestamp: other,
                secrets: [secret],
                nowMs: at(other),
                toleranceMs: TWO_HOURS,
              }),
            ).toBe('signature_mismatch');
          },
        ),
      );
    });

    it('changing any hex character of the signature to another hex value fails', () => {
      fc.assert(
        fc.property(
          bodyArb,
          secretArb,
          tsArb,
          fc.integer({ min: 0, max: 63 }),
          fc.integer({ min: 1, max: 15 }),
          (body, secret, ts, pos, delta) => {
            const signature = signDelivery(secret, ts, body);
            const hex = signature.slice(3);
            const changed = ((parseInt(hex[pos] ?? '0', 16) + delta) % 16).toString(16);
            const tampered = 'v0=' + hex.slice(0, pos) + changed + hex.slice(pos + 1);
            expect(
              reasonOf({
                rawBody: body,
                signature: tampered,
                timestamp: ts,
                secrets: [secret],
                nowMs: at(ts),
                toleranceMs: 1000,
              }),
            ).toBe('signature_mismatch');
          },
        ),
      );
    });

    it('a signature made with another secret fails', () => {
      fc.assert(
        fc.property(
          bodyArb,
          fc.uniqueArray(secretArb, { minLength: 2, maxLength: 2 }),
          tsArb,
          (body, [signer, configured], ts) => {
            const signature = signDelivery(signer!, ts, body);
            expect(
              reasonOf({
                rawBody: body,
                signature,
                timestamp: ts,
                secrets: [configured!],
                nowMs: at(ts),
                toleranceMs: 1000,
              }),
            ).toBe('signature_mismatch');
          },
        ),
      );
    });
  });
});

describe('describeVerifyFailure', () => {
  const reasons: VerifyFailure[] = [
    'signature_missing',
    'signature_malformed',
    'timestamp_missing',
    'timestamp_malformed',
    'timestamp_stale',
    'signature_mismatch',
  ];

  it.each([
    ['signature_missing', 'x-zm-signature header is missing'],
    ['timestamp_missing', 'x-zm-request-timestamp header is missing'],
    ['signature_mismatch', 'no configured secret token matches the signature'],
  ] as const)('explains %s', (reason, message) => {
    expect(describeVerifyFailure(reason)).toBe(message);
  });

  it('states the tolerance in seconds when given', () => {
    expect(describeVerifyFailure('timestamp_stale', TWO_HOURS)).toBe(
      'x-zm-request-timestamp is outside the allowed tolerance of 7200 seconds',
    );
    expect(describeVerifyFailure('timestamp_stale')).toBe('x-zm-request-timestamp is outside the allowed tolerance');
  });

  it('gives every reason its own message naming the header it concerns', () => {
    const messages = reasons.map((r) => describeVerifyFailure(r, TWO_HOURS));
    expect(new Set(messages).size).toBe(reasons.length);
    for (const m of messages) expect(m).toMatch(/x-zm-signature|x-zm-request-timestamp|secret token/);
  });

  it('never contains hex digests or the expected signature', () => {
    const expected = signDelivery(SECRET, TS, V1_BODY);
    for (const r of reasons) {
      const m = describeVerifyFailure(r, TWO_HOURS);
      expect(m).not.toContain(expected.slice(3, 11));
      expect(m).not.toMatch(/[0-9a-f]{16}/i);
      expect(m).not.toContain(SECRET);
    }
  });
});
