import * as fs from 'node:fs';
import * as path from 'node:path';
import { type ZoomEnvelope, accountIdOf, meetingUuidOf, parseEnvelope } from './envelope';
import { UNKEYED_PARTITION, partitionKey } from './partition-key';

/** docs/ZOOM-FACTS.md §9 fixtures: $ZOOM_FIXTURES_DIR, else the repository copy. */
function zoomFixtureDir(): string {
  const candidates = [process.env.ZOOM_FIXTURES_DIR, path.resolve(__dirname, '../../../test/zoom-sim/fixtures')];
  const dir = candidates.find((d): d is string => d !== undefined && fs.existsSync(d));
  if (dir === undefined) throw new Error('Zoom fixtures not found; set ZOOM_FIXTURES_DIR');
  return dir;
}

const MEETING_UUID = '/Gx2k7+Rq0S1o9Lb//nYQw==';
const ACCOUNT_ID = 'wA8sT3KqRj2cXy7mN0pLzQ';

function fixtureBody(file: string): Buffer {
  const dir = zoomFixtureDir();
  return Buffer.from(JSON.stringify(JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'))), 'utf8');
}

function parsed(body: string | Buffer): ZoomEnvelope {
  const r = parseEnvelope(typeof body === 'string' ? Buffer.from(body, 'utf8') : body);
  if (!r.ok) throw new Error(`expected a valid envelope, got ${r.reason}`);
  return r.envelope;
}

function reasonOf(body: string | Buffer): string {
  const r = parseEnvelope(typeof body === 'string' ? Buffer.from(body, 'utf8') : body);
  return r.ok ? 'ok' : r.reason;
}

describe('parseEnvelope', () => {
  it('keeps every field of a recording.completed body, key order and all', () => {
    const body = fixtureBody('recording.completed.json');
    const e = parsed(body);
    expect(e.event).toBe('recording.completed');
    expect(e.event_ts).toBe(1740596809123);
    expect(typeof e.download_token).toBe('string');
    expect(JSON.stringify(e)).toBe(body.toString('utf8'));
  });

  it.each([
    ['an empty body', ''],
    ['truncated JSON', '{"event":"meeting.started"'],
    ['a JSON array', '[{"event":"meeting.started"}]'],
    ['a JSON string', '"meeting.started"'],
    ['JSON null', 'null'],
    ['a payload that is an array', '{"event":"x","payload":[1]}'],
    ['a payload that is a string', '{"event":"x","payload":"p"}'],
  ])('refuses %s as body_not_json', (_name, body) => {
    expect(reasonOf(body)).toBe('body_not_json');
  });

  it('refuses bytes that are not valid UTF-8 instead of replacing them', () => {
    const body = Buffer.concat([
      Buffer.from('{"event":"meeting.started","payload":{"topic":"'),
      Buffer.from([0xc3, 0x28]),
      Buffer.from('"}}'),
    ]);
    expect(reasonOf(body)).toBe('body_not_json');
  });

  it.each([
    ['no event', '{"payload":{}}'],
    ['an empty event', '{"event":"","payload":{}}'],
    ['a numeric event', '{"event":42,"payload":{}}'],
    ['a null event', '{"event":null}'],
  ])('refuses %s as event_missing', (_name, body) => {
    expect(reasonOf(body)).toBe('event_missing');
  });

  it('gives a missing or null payload as an empty object', () => {
    expect(parsed('{"event":"app.ping"}').payload).toEqual({});
    expect(parsed('{"event":"app.ping","payload":null}').payload).toEqual({});
  });

  it('drops event_ts and download_token of the wrong type so the typed fields hold', () => {
    const e = parsed('{"event":"x","payload":{},"event_ts":"1740596809123","download_token":42,"extra":true}');
    expect(e).toEqual({ event: 'x', payload: {}, extra: true });
  });

  it('keeps a __proto__ key as data without touching the prototype', () => {
    const e = parsed('{"event":"x","payload":{},"__proto__":{"polluted":true}}');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(e)).toBe(Object.prototype);
  });
});

describe('partitionKey, meetingUuidOf, accountIdOf over the fixtures', () => {
  it.each([
    ['meeting.started.json', MEETING_UUID, MEETING_UUID],
    ['meeting.ended.json', MEETING_UUID, MEETING_UUID],
    ['meeting.participant_joined.json', MEETING_UUID, MEETING_UUID],
    ['meeting.participant_left.json', MEETING_UUID, MEETING_UUID],
    ['meeting.rtms_started.json', MEETING_UUID, MEETING_UUID],
    ['meeting.rtms_stopped.json', MEETING_UUID, MEETING_UUID],
    ['recording.completed.json', MEETING_UUID, MEETING_UUID],
    ['recording.transcript_completed.json', MEETING_UUID, MEETING_UUID],
    ['app_deauthorized.json', ACCOUNT_ID, undefined],
    ['webinar.rtms_started.json', 'kP3nWq8+Tz2fLr9x//Ab5g==', 'kP3nWq8+Tz2fLr9x//Ab5g=='],
    ['webinar.rtms_stopped.json', 'kP3nWq8+Tz2fLr9x//Ab5g==', 'kP3nWq8+Tz2fLr9x//Ab5g=='],
    ['session.rtms_started.json', 'Vd7kQ2r+Lm9sTz4w//Xy1A==', 'Vd7kQ2r+Lm9sTz4w//Xy1A=='],
    ['session.rtms_stopped.json', 'Vd7kQ2r+Lm9sTz4w//Xy1A==', 'Vd7kQ2r+Lm9sTz4w//Xy1A=='],
    ['session.recording_completed.json', 'Vd7kQ2r+Lm9sTz4w//Xy1A==', 'Vd7kQ2r+Lm9sTz4w//Xy1A=='],
    ['recording.completed.all_file_shapes.json', MEETING_UUID, MEETING_UUID],
  ])('%s is keyed by %s', (file, key, uuid) => {
    const e = parsed(fixtureBody(file));
    expect(partitionKey(e)).toBe(key);
    expect(meetingUuidOf(e)).toBe(uuid);
  });

  it('finds the account id in payload.account_id or payload.object.account_id', () => {
    expect(accountIdOf(parsed(fixtureBody('app_deauthorized.json')))).toBe(ACCOUNT_ID);
    expect(accountIdOf({ event: 'x', payload: { object: { account_id: 'inner' } } })).toBe('inner');
    expect(accountIdOf({ event: 'x', payload: { account_id: 'outer', object: { account_id: 'inner' } } })).toBe(
      'outer',
    );
  });

  it.each<[string, ZoomEnvelope, string]>([
    [
      'object.uuid first',
      { event: 'x', payload: { meeting_uuid: 'rtms', account_id: 'a', object: { uuid: 'obj' } } },
      'obj',
    ],
    ['then RTMS meeting_uuid', { event: 'x', payload: { meeting_uuid: 'rtms', account_id: 'a' } }, 'rtms'],
    ['then payload.account_id', { event: 'x', payload: { account_id: 'a', object: { account_id: 'b' } } }, 'a'],
    ['then payload.object.account_id', { event: 'x', payload: { object: { account_id: 'b' } } }, 'b'],
    [
      'empty strings do not count',
      { event: 'x', payload: { object: { uuid: '', account_id: '' }, meeting_uuid: '', account_id: '' } },
      UNKEYED_PARTITION,
    ],
    ['non-string uuids do not count', { event: 'x', payload: { object: { uuid: 42 } } }, UNKEYED_PARTITION],
    ['nothing at all', { event: 'x', payload: {} }, 'unkeyed'],
  ])('prefers %s', (_name, envelope, key) => {
    expect(partitionKey(envelope)).toBe(key);
  });

  it.each<[string, ZoomEnvelope, string]>([
    [
      'webinar RTMS: payload.webinar_uuid',
      { event: 'webinar.rtms_started', payload: { webinar_uuid: 'wuuid', rtms_stream_id: 's', account_id: 'a' } },
      'wuuid',
    ],
    [
      'webinar RTMS: payload.object.webinar_uuid',
      {
        event: 'webinar.rtms_stopped',
        payload: { account_id: 'a', object: { webinar_uuid: 'wuuid', rtms_stream_id: 's' } },
      },
      'wuuid',
    ],
    [
      'meeting RTMS: payload.object.meeting_uuid',
      { event: 'meeting.rtms_started', payload: { account_id: 'a', object: { meeting_uuid: 'muuid' } } },
      'muuid',
    ],
    [
      'Video SDK RTMS: payload.session_id',
      { event: 'session.rtms_started', payload: { session_id: 'sid', rtms_stream_id: 's', account_id: 'a' } },
      'sid',
    ],
    [
      'Video SDK recording: payload.object.session_id',
      { event: 'session.recording_completed', payload: { account_id: 'a', object: { session_id: 'sid' } } },
      'sid',
    ],
  ])('keys %s by the instance UUID, not the account', (_name, envelope, key) => {
    expect(partitionKey(envelope)).toBe(key);
    expect(meetingUuidOf(envelope)).toBe(key);
  });

  it('reads session_id only on session.* events (elsewhere it is not an instance id)', () => {
    expect(
      meetingUuidOf({ event: 'meeting.x', payload: { account_id: 'a', object: { session_id: 'sid' } } }),
    ).toBeUndefined();
    expect(partitionKey({ event: 'meeting.x', payload: { account_id: 'a', object: { session_id: 'sid' } } })).toBe('a');
  });
});
