import { readFileSync } from 'node:fs';
import path from 'node:path';
import { startCaptureServer, type CaptureServer } from './capture-server';
import { findRepoRoot, fixtureNames, fixtureText, loadFixture, zoomBody } from './fixtures';
import { ZoomWebhookSender } from './webhook-sender';
import { zoomEncryptedToken, zoomSignature } from './zoom-signature';

// docs/ZOOM-FACTS.md §8 and §9, copied verbatim: the simulator must sign exactly like Zoom.
const SECRET = 'test-secret-token';
const TS = 1740596809;
const V1_BODY =
  '{"event":"meeting.started","payload":{"account_id":"AcctTest123",' +
  '"object":{"uuid":"4444AAAiAAAAAiAiAiiAii==","id":"85746065123"}},"event_ts":1740596809123}';
const V1_SIG = 'v0=2915170b503538bb2343a7fb98be75ca964c277d2bdc3e00451c7649254cc4f4';
const V3_BODY =
  '{"payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"},"event_ts":1740596809123,"event":"endpoint.url_validation"}';
const V3_SIG = 'v0=c7d851eab963e805a5affbac7e6c231f622667230ecff14ef8ff76aab0ab466f';
const V5_BODY =
  '{"event":"meeting.started","payload":{"account_id":"AcctTest123","object":{"topic":"Reunión — ' +
  'Q1","uuid":"/ab+cd//ef==","id":85746065123}},"event_ts":1740596809123}';
const V5_SIG = 'v0=e9f58e7204ae984fd75981b1e9a37ec2ac1d435d6a497e16c62579f403c8c6dc';
const V5_LATIN1_SIG = 'v0=d73fb27777a5d90844555af550b018baa28c4a0419aa3ebc40d5cda3385000d6';

const FIXTURE_TABLE: Record<string, { bytes: number; ts: number; sig: string }> = {
  app_deauthorized: {
    bytes: 304,
    ts: 1740647564,
    sig: 'v0=1b9e13fead41a5f5ee8ec16220e634c06679484ead2826161f2304443504f3a6',
  },
  'endpoint.url_validation': {
    bytes: 110,
    ts: 1740596809,
    sig: 'v0=c7d851eab963e805a5affbac7e6c231f622667230ecff14ef8ff76aab0ab466f',
  },
  'meeting.ended': {
    bytes: 402,
    ts: 1740596472,
    sig: 'v0=03f433105cad00308fe7adf7f6fd62edc98693c6e4b4541103780093e8a529ba',
  },
  'meeting.participant_joined': {
    bytes: 644,
    ts: 1740592831,
    sig: 'v0=c92200ef1bc072685e4f683d1402809b11a7e030ee0fe6f475cc345a1d22932e',
  },
  'meeting.participant_left': {
    bytes: 769,
    ts: 1740596292,
    sig: 'v0=8f9120fef08e4675ce910db7dd47f8dfa14ff219594394b3698ee7a387e25609',
  },
  'meeting.rtms_started': {
    bytes: 275,
    ts: 1740592807,
    sig: 'v0=df43dcc30e7ff76ea2c74cb44d8c77e3034a066a4c14170db4304819d918d107',
  },
  'meeting.rtms_stopped': {
    bytes: 217,
    ts: 1740596472,
    sig: 'v0=d5c7017f291bcfd207955d8578764994ba00e0eb42ed45e54b1d50d669169e3c',
  },
  'meeting.started': {
    bytes: 370,
    ts: 1740592805,
    sig: 'v0=26a45d0a98802b704249a27217162864a5243460fcc7c53b7d0382efbc2dc6ea',
  },
  'recording.completed': {
    bytes: 2861,
    ts: 1740596809,
    sig: 'v0=e9a6e511c2d4f7ce04e1fd4796bc843109903f0175c7561c3bba24bd41376088',
  },
  'recording.transcript_completed': {
    bytes: 1442,
    ts: 1740597242,
    sig: 'v0=265ca71450de8abeac4a558363b1edc4c97fa62ea08943a4e3f7fcf866fbefff',
  },
};

/**
 * Fixtures for shapes the research fixtures do not cover (docs/ZOOM-PLATFORM.md): webinar and Video SDK RTMS,
 * session.recording_completed, and a recording.completed with every file shape (no id, no size, processing, a
 * shared id, a Cyrillic topic). Synthetic; sizes and signatures computed here the same way, pinned so a change is seen.
 */
const PIPELINE_FIXTURE_TABLE: Record<string, { bytes: number; ts: number; sig: string }> = {
  'webinar.rtms_started': {
    bytes: 275,
    ts: 1740592807,
    sig: 'v0=8293111e0b69109fe21a1031c9ce627ab6137d6ccfefac250bba0d367a945ef4',
  },
  'webinar.rtms_stopped': {
    bytes: 217,
    ts: 1740596472,
    sig: 'v0=95082a633351ce6d61b1e20e3177190aad0852f99cef114375349e618724a26d',
  },
  'session.rtms_started': {
    bytes: 273,
    ts: 1740592807,
    sig: 'v0=8fe5db584e24f23df42a048cfb921203d8b8e71f54aad518ef85976611b08801',
  },
  'session.rtms_stopped': {
    bytes: 215,
    ts: 1740596472,
    sig: 'v0=2c76b3487404b473702dbccf9c13a60032ab0522effcc661de2ddd80c98d1728',
  },
  'session.recording_completed': {
    bytes: 1489,
    ts: 1740596809,
    sig: 'v0=037425e34f5759a6bafb8891935005f7bd7c89846cd30c3e8cadfccad32c3fff',
  },
  'recording.completed.all_file_shapes': {
    bytes: 3763,
    ts: 1740596809,
    sig: 'v0=9de3e5fc34ceba068623edc4fead3e22405ce7c7d3e0fab8c2e607669bdab1c4',
  },
};

describe('zoomSignature (docs/ZOOM-FACTS.md §8)', () => {
  it('matches V1, V3 and V5', () => {
    expect(zoomSignature(SECRET, TS, V1_BODY)).toBe(V1_SIG);
    expect(zoomSignature(SECRET, String(TS), V3_BODY)).toBe(V3_SIG);
    expect(zoomSignature(SECRET, TS, Buffer.from(V5_BODY, 'utf8'))).toBe(V5_SIG);
    expect(zoomSignature(SECRET, TS, V5_BODY)).toBe(V5_SIG);
  });

  it('signs bytes, not JSON: pretty-printing (V4) and a latin1 decode (V5) change the signature', () => {
    expect(zoomSignature(SECRET, TS, JSON.stringify(JSON.parse(V1_BODY), null, 2))).toBe(
      'v0=9385f9ee982f9af64ab23c50f7944100da9ee275616ccb92f109b59386e4c142',
    );
    // The wrong-decoding vector: the UTF-8 bytes decoded as latin1, and that string hashed (as UTF-8).
    const latin1 = Buffer.from(Buffer.from(V5_BODY, 'utf8').toString('latin1'), 'utf8');
    expect(zoomSignature(SECRET, TS, latin1)).toBe(V5_LATIN1_SIG);
  });

  it('computes the CRC encryptedToken (V2)', () => {
    expect(zoomEncryptedToken(SECRET, 'qgg8vlvZRS6UYooatFL8Aw')).toBe(
      '9c8ad56737c19db2904b301c0781e86857e999f39f07727668cf62a5e7e298c8',
    );
  });
});

describe('ZoomWebhookSender on the wire (fixed timestamp)', () => {
  let receiver: CaptureServer;
  let sender: ZoomWebhookSender;
  beforeAll(async () => {
    receiver = await startCaptureServer();
    sender = new ZoomWebhookSender({ targetUrl: receiver.url, secret: SECRET });
  });
  afterAll(() => receiver.close());

  it.each([
    ['V1', V1_BODY, V1_SIG],
    ['V3', V3_BODY, V3_SIG],
    ['V5', V5_BODY, V5_SIG],
  ])('sends %s with the vector signature and the exact body bytes', async (_name, body, sig) => {
    const before = receiver.requests.length;
    const outcome = await sender.send(body, { timestampSec: TS });
    expect(outcome.acked).toBe(true);
    const req = receiver.requests[before]!;
    expect(req.headers['x-zm-request-timestamp']).toBe(String(TS));
    expect(req.headers['x-zm-signature']).toBe(sig);
    expect(req.body.equals(Buffer.from(body, 'utf8'))).toBe(true);
  });

  it('sends every fixture compact, with the §9 size and signature', async () => {
    expect(fixtureNames()).toEqual([...Object.keys(FIXTURE_TABLE), ...Object.keys(PIPELINE_FIXTURE_TABLE)].sort());
    for (const [name, row] of Object.entries({ ...FIXTURE_TABLE, ...PIPELINE_FIXTURE_TABLE })) {
      const before = receiver.requests.length;
      const fixture = loadFixture(name);
      expect(Math.floor((fixture.event_ts as number) / 1000)).toBe(row.ts);
      await sender.send(fixture, { timestampSec: row.ts });
      const req = receiver.requests[before]!;
      expect({ name, bytes: req.body.length, sig: req.headers['x-zm-signature'] }).toEqual({
        name,
        bytes: row.bytes,
        sig: row.sig,
      });
      expect(req.body.equals(zoomBody(JSON.parse(fixtureText(name)) as object))).toBe(true);
    }
  });
});

describe('fixtures', () => {
  it('the fixtures are read from the in-repo copies', () => {
    const local = path.join(findRepoRoot(), 'test/zoom-sim/fixtures');
    for (const name of Object.keys(FIXTURE_TABLE)) {
      const localText = readFileSync(path.join(local, `${name}.json`), 'utf8');
      expect(fixtureText(name)).toBe(localText);
    }
  });

  it('loadFixture returns a fresh copy each time', () => {
    const a = loadFixture('meeting.started');
    a.event = 'changed';
    expect(loadFixture('meeting.started').event).toBe('meeting.started');
  });

  it('rejects fixture names that could escape the directory', () => {
    expect(() => loadFixture('../package')).toThrow(/invalid fixture name/);
  });
});
