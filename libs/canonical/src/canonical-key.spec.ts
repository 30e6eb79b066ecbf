import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { type ZoomEnvelope, parseEnvelope } from '@zoom-pipeline/zoom-webhook';
import { canonicalJson } from './canonical-json';
import { canonicalId, canonicalKey } from './canonical-key';

/** docs/ZOOM-FACTS.md §9 fixtures: $ZOOM_FIXTURES_DIR, else the repository copy. */
function zoomFixtureDir(): string {
  const candidates = [process.env.ZOOM_FIXTURES_DIR, path.resolve(__dirname, '../../../test/zoom-sim/fixtures')];
  const dir = candidates.find((d): d is string => d !== undefined && fs.existsSync(d));
  if (dir === undefined) throw new Error('Zoom fixtures not found; set ZOOM_FIXTURES_DIR');
  return dir;
}

const UUID = '/Gx2k7+Rq0S1o9Lb//nYQw==';

/** A Zoom fixture as parsed from its compact body (Zoom sends compact JSON). */
function fixture(file: string): ZoomEnvelope {
  const dir = zoomFixtureDir();
  const compact = JSON.stringify(JSON.parse(fs.readFileSync(path.join(dir, `${file}.json`), 'utf8')));
  const r = parseEnvelope(Buffer.from(compact, 'utf8'));
  if (!r.ok) throw new Error(`${file}: ${r.reason}`);
  return r.envelope;
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function clone<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

/** Replaces the value of every member named `field`, at any depth. */
function replaceDeep(value: unknown, field: string, by: (old: unknown, path: string) => unknown, at = ''): unknown {
  if (Array.isArray(value)) return value.map((v, i) => replaceDeep(v, field, by, `${at}[${i}]`));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value))
      out[k] = k === field ? by(v, `${at}.${k}`) : replaceDeep(v, field, by, `${at}.${k}`);
    return out;
  }
  return value;
}

/** The same data with every object's keys in reverse order (as Zoom orders keys differently per event type). */
function reverseKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reverseKeys);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value)
        .reverse()
        .map(([k, v]) => [k, reverseKeys(v)]),
    );
  }
  return value;
}

function objectOf(e: ZoomEnvelope): Record<string, unknown> {
  return e.payload.object as Record<string, unknown>;
}

const FIXTURES = [
  'app_deauthorized',
  'endpoint.url_validation',
  'meeting.ended',
  'meeting.participant_joined',
  'meeting.participant_left',
  'meeting.rtms_started',
  'meeting.rtms_stopped',
  'meeting.started',
  'recording.completed',
  'recording.transcript_completed',
] as const;

describe('canonicalKey', () => {
  // Pinned: the dedup store holds claims on these for DEDUP_WINDOW, so a format change is a breaking change.
  it.each([
    ['meeting.started', `["meeting.started","meeting","${UUID}"]`],
    ['meeting.ended', `["meeting.ended","meeting","${UUID}"]`],
    [
      'meeting.participant_joined',
      `["meeting.participant_joined","participant","${UUID}","participant_uuid",` +
        '"5F3C9A1E-7B24-4D8E-9C61-2A7F0B3D8E45","2025-02-26T18:00:31Z"]',
    ],
    [
      'meeting.participant_left',
      `["meeting.participant_left","participant","${UUID}","participant_uuid",` +
        '"5F3C9A1E-7B24-4D8E-9C61-2A7F0B3D8E45","2025-02-26T18:58:12Z"]',
    ],
    [
      'meeting.rtms_started',
      `["meeting.rtms_started","rtms","meeting_uuid","${UUID}","c3aeb1db7e6418f2126885808f4cdbbe"]`,
    ],
    [
      'meeting.rtms_stopped',
      `["meeting.rtms_stopped","rtms","meeting_uuid","${UUID}","c3aeb1db7e6418f2126885808f4cdbbe"]`,
    ],
    [
      'recording.completed',
      `["recording.completed","recording","${UUID}",["163e6eee-cb13-4970-9125-ca34863aecc9",` +
        '"1703d853-b399-4129-b6ee-5aebc54acecc","1e3f16df-b330-4376-81bf-112d45c8834d",' +
        '"2f379a68-1c60-4986-a88c-50a8f1788267"],[]]',
    ],
    [
      'recording.transcript_completed',
      `["recording.transcript_completed","recording","${UUID}",["1703d853-b399-4129-b6ee-5aebc54acecc"],[]]`,
    ],
  ] as const)('keys %s by its SPEC §6 identity', (file, key) => {
    expect(canonicalKey(fixture(file))).toBe(key);
  });

  it('keys other events by the digest of the body without volatile fields', () => {
    const e = fixture('app_deauthorized');
    const { event_ts: _ts, ...stable } = e;
    const digest = createHash('sha256').update(canonicalJson(stable)).digest('hex');
    expect(canonicalKey(e)).toBe(`["app_deauthorized","payload","${digest}"]`);
  });

  describe('gives copies of one occurrence the same key', () => {
    const variants: Array<[string, (e: ZoomEnvelope) => unknown]> = [
      ['another download_token', (e) => ({ ...e, download_token: 'eyJ.other-copy.token' })],
      ['no download_token', (e) => ({ ...e, download_token: undefined })],
      [
        'other download_url values',
        (e) => replaceDeep(e, 'download_url', (_old, p) => `https://us06web.zoom.us/rec/webhook_download/other${p}`),
      ],
      [
        'other play_url values',
        (e) => replaceDeep(e, 'play_url', (_old, p) => `https://us06web.zoom.us/rec/play/other${p}`),
      ],
      ['another event_ts', (e) => ({ ...e, event_ts: (e.event_ts ?? 0) + 300_000 })],
      ['keys in another order, at every level', (e) => reverseKeys(e)],
      ['object.id as a number', (e) => replaceDeep(e, 'object', (o) => ({ ...(o as object), id: 85746065123 }))],
      ['object.id as a string', (e) => replaceDeep(e, 'object', (o) => ({ ...(o as object), id: '85746065123' }))],
      [
        'recording_files in reverse order',
        (e) => replaceDeep(e, 'recording_files', (files) => [...(files as unknown[])].reverse()),
      ],
    ];
    const cases = FIXTURES.flatMap((file) => variants.map(([name, change]) => [file, name, change] as const));

    it.each(cases)('%s with %s', (file, _name, change) => {
      const original = fixture(file);
      const copy = clone(change(fixture(file))) as ZoomEnvelope;
      expect(canonicalKey(copy)).toBe(canonicalKey(original));
    });

    it('for the S10 simultaneous recording.completed copies (all tokens and URLs differ)', () => {
      const a = fixture('recording.completed');
      const b = replaceDeep(
        { ...a, download_token: 'second-copy' },
        'download_url',
        (_o, p) => `https://us06web.zoom.us/rec/webhook_download/copy2${p}`,
      );
      expect(canonicalKey(b as ZoomEnvelope)).toBe(canonicalKey(a));
    });
  });

  describe('gives different occurrences different keys', () => {
    const base = (file: string) => clone(fixture(file));
    const cases: Array<[string, ZoomEnvelope, ZoomEnvelope]> = [
      ['meeting.started vs meeting.ended of one meeting', base('meeting.started'), base('meeting.ended')],
      [
        'meeting.started of two meeting instances',
        base('meeting.started'),
        (() => {
          const e = base('meeting.started');
          objectOf(e).uuid = 'other+instance==';
          return e;
        })(),
      ],
      ['rtms_started vs rtms_stopped of one stream', base('meeting.rtms_started'), base('meeting.rtms_stopped')],
      [
        'another rtms_stream_id',
        base('meeting.rtms_started'),
        {
          ...base('meeting.rtms_started'),
          payload: { ...base('meeting.rtms_started').payload, rtms_stream_id: '0123456789abcdef0123456789abcdef' },
        },
      ],
      ['a join vs a leave of one person', base('meeting.participant_joined'), base('meeting.participant_left')],
      [
        'another participant joining',
        base('meeting.participant_joined'),
        (() => {
          const e = base('meeting.participant_joined');
          (objectOf(e).participant as Record<string, unknown>).participant_uuid =
            '00000000-0000-0000-0000-000000000001';
          return e;
        })(),
      ],
      [
        'the same person rejoining later (docs/USER-REPORTS.md #2)',
        base('meeting.participant_left'),
        (() => {
          const e = base('meeting.participant_left');
          (objectOf(e).participant as Record<string, unknown>).leave_time = '2025-02-26T19:00:40Z';
          return e;
        })(),
      ],
      [
        'a file set with one file less',
        base('recording.completed'),
        (() => {
          const e = base('recording.completed');
          objectOf(e).recording_files = (objectOf(e).recording_files as unknown[]).slice(1);
          return e;
        })(),
      ],
      [
        'a file set with another file id',
        base('recording.completed'),
        (() => {
          const e = base('recording.completed');
          ((objectOf(e).recording_files as unknown[])[0] as Record<string, unknown>).id =
            'ffffffff-0000-0000-0000-000000000000';
          return e;
        })(),
      ],
      [
        'a file set with an extra per-participant audio file',
        base('recording.completed'),
        (() => {
          const e = base('recording.completed');
          objectOf(e).participant_audio_files = [
            { id: 'aaaaaaaa-1111-2222-3333-444444444444', file_type: 'M4A', download_url: 'https://x' },
          ];
          return e;
        })(),
      ],
      [
        'recording.completed vs recording.transcript_completed with the same file set',
        (() => {
          const e = base('recording.completed');
          objectOf(e).recording_files = [(objectOf(e).recording_files as unknown[])[2]];
          return e;
        })(),
        base('recording.transcript_completed'),
      ],
      [
        'two different unknown events',
        base('app_deauthorized'),
        { ...base('app_deauthorized'), payload: { ...base('app_deauthorized').payload, user_id: 'another-user' } },
      ],
    ];

    it.each(cases)('%s', (_name, a, b) => {
      expect(canonicalKey(a)).not.toBe(canonicalKey(b));
    });
  });

  describe('participant identity (docs/ZOOM-FACTS.md §11)', () => {
    function joined(participant: Record<string, unknown>): ZoomEnvelope {
      return {
        event: 'meeting.participant_joined',
        payload: {
          account_id: 'a',
          object: { uuid: UUID, id: '1', participant: { join_time: '2025-02-26T18:00:31Z', ...participant } },
        },
      };
    }

    it('uses participant_uuid, then a non-empty id, then user_id', () => {
      expect(canonicalKey(joined({ participant_uuid: 'P', id: 'I', user_id: 'U' }))).toContain(
        '"participant_uuid","P"',
      );
      expect(canonicalKey(joined({ participant_uuid: '', id: 'I', user_id: 'U' }))).toContain('"id","I"');
      expect(canonicalKey(joined({ id: '', user_id: '16778240' }))).toContain('"user_id","16778240"');
      expect(canonicalKey(joined({ id: '', user_id: 16778240 }))).toContain('"user_id","16778240"');
    });

    it('keeps a guest identified by user_id apart from a user whose id has the same value', () => {
      expect(canonicalKey(joined({ id: '', user_id: 'X' }))).not.toBe(canonicalKey(joined({ id: 'X' })));
    });

    it('falls back to the body digest when there is no identity or no time, rather than merging people', () => {
      const noIdentity = joined({ id: '', user_name: 'Guest A' });
      const otherNoIdentity = joined({ id: '', user_name: 'Guest B' });
      expect(canonicalKey(noIdentity)).toMatch(/^\["meeting\.participant_joined","payload","[0-9a-f]{64}"\]$/);
      expect(canonicalKey(noIdentity)).not.toBe(canonicalKey(otherNoIdentity));
      expect(canonicalKey(joined({ participant_uuid: 'P', join_time: undefined }))).toContain('"payload"');
    });

    it('applies to webinar participants too', () => {
      const e = { ...joined({ participant_uuid: 'P' }), event: 'webinar.participant_joined' };
      expect(canonicalKey(e)).toBe(
        `["webinar.participant_joined","participant","${UUID}","participant_uuid","P","2025-02-26T18:00:31Z"]`,
      );
    });
  });

  describe('rules for related event families', () => {
    it('keys webinar.started/ended and webinar RTMS like their meeting equivalents', () => {
      expect(canonicalKey({ event: 'webinar.ended', payload: { object: { uuid: 'W==' } } })).toBe(
        '["webinar.ended","meeting","W=="]',
      );
      expect(
        canonicalKey({ event: 'webinar.rtms_started', payload: { meeting_uuid: 'W==', rtms_stream_id: 's1' } }),
      ).toBe('["webinar.rtms_started","rtms","meeting_uuid","W==","s1"]');
    });

    it('keys Video SDK session RTMS events by session_id', () => {
      expect(canonicalKey({ event: 'session.rtms_started', payload: { session_id: 'S1', rtms_stream_id: 's1' } })).toBe(
        '["session.rtms_started","rtms","session_id","S1","s1"]',
      );
    });

    it('keys webinar RTMS events that carry webinar_uuid (no meeting_uuid) by it and the stream', () => {
      const started: ZoomEnvelope = {
        event: 'webinar.rtms_started',
        payload: { account_id: 'a', webinar_uuid: 'W==', rtms_stream_id: 's1', server_urls: 'wss://x' },
      };
      expect(canonicalKey(started)).toBe('["webinar.rtms_started","rtms","webinar_uuid","W==","s1"]');
      // a copy with other server_urls is the same occurrence; another stream is not
      expect(canonicalKey({ ...started, payload: { ...started.payload, server_urls: 'wss://y' } })).toBe(
        canonicalKey(started),
      );
      expect(canonicalKey({ ...started, payload: { ...started.payload, rtms_stream_id: 's2' } })).not.toBe(
        canonicalKey(started),
      );
    });

    it('reads RTMS fields from payload.object as well as payload', () => {
      expect(
        canonicalKey({
          event: 'meeting.rtms_started',
          payload: { account_id: 'a', object: { meeting_uuid: 'M==', rtms_stream_id: 's1' } },
        }),
      ).toBe('["meeting.rtms_started","rtms","meeting_uuid","M==","s1"]');
      expect(
        canonicalKey({
          event: 'webinar.rtms_stopped',
          payload: { account_id: 'a', object: { webinar_uuid: 'W==', rtms_stream_id: 's1', stop_reason: 6 } },
        }),
      ).toBe('["webinar.rtms_stopped","rtms","webinar_uuid","W==","s1"]');
      expect(
        canonicalKey({
          event: 'session.rtms_stopped',
          payload: { account_id: 'a', object: { session_id: 'S1', rtms_stream_id: 's1' } },
        }),
      ).toBe('["session.rtms_stopped","rtms","session_id","S1","s1"]');
    });

    it('keys Video SDK session.recording_completed by the session id and its file set', () => {
      const e: ZoomEnvelope = {
        event: 'session.recording_completed',
        download_token: 't1',
        payload: {
          account_id: 'a',
          object: {
            session_id: 'S==',
            session_name: 'n',
            recording_files: [{ id: 'f1', download_url: 'https://a' }, { id: 'f2' }],
          },
        },
      };
      expect(canonicalKey(e)).toBe('["session.recording_completed","recording","S==",["f1","f2"],[]]');
      expect(canonicalKey({ ...e, download_token: 't2' })).toBe(canonicalKey(e));
    });

    it('adds the files still processing as a sixth part, so the finished event is a new occurrence', () => {
      const done = fixture('recording.completed');
      const processing = clone(done);
      ((objectOf(processing).recording_files as unknown[])[0] as Record<string, unknown>).status = 'processing';
      expect(canonicalKey(done).startsWith('["recording.completed","recording",')).toBe(true);
      expect(JSON.parse(canonicalKey(done))).toHaveLength(5);
      expect(JSON.parse(canonicalKey(processing))).toHaveLength(6);
      expect(canonicalKey(processing)).not.toBe(canonicalKey(done));
      // copies of the unfinished event still match each other
      expect(canonicalKey(reverseKeys(processing) as ZoomEnvelope)).toBe(canonicalKey(processing));
    });

    it('keys other recording events that carry recording_files by their file set', () => {
      const e = fixture('recording.completed');
      expect(canonicalKey({ ...e, event: 'recording.trashed' })).toMatch(/^\["recording\.trashed","recording",/);
    });

    it('represents files without an id by their stable fields, so an added TIMELINE entry changes the set', () => {
      const e = clone(fixture('recording.transcript_completed'));
      const timeline = {
        file_type: 'TIMELINE',
        file_extension: 'JSON',
        recording_start: '2025-02-26T18:00:09Z',
        download_url: 'https://a',
      };
      const withTimeline = clone(e);
      objectOf(withTimeline).recording_files = [...(objectOf(e).recording_files as unknown[]), timeline];
      const sameTimelineOtherUrl = clone(withTimeline);
      ((objectOf(sameTimelineOtherUrl).recording_files as unknown[])[1] as Record<string, unknown>).download_url =
        'https://b';
      expect(canonicalKey(withTimeline)).not.toBe(canonicalKey(e));
      expect(canonicalKey(sameTimelineOtherUrl)).toBe(canonicalKey(withTimeline));
    });

    it('keeps the fallback digest of a meeting.started without uuid apart from any keyed meeting.started', () => {
      const noUuid: ZoomEnvelope = { event: 'meeting.started', payload: { object: { id: '1' } } };
      expect(canonicalKey(noUuid)).toMatch(/^\["meeting\.started","payload",/);
    });
  });

  describe('unknown events', () => {
    const updated = (id: number | string, extra: Record<string, unknown> = {}): ZoomEnvelope => ({
      event: 'meeting.updated',
      event_ts: 1740596809123,
      payload: {
        account_id: 'a',
        operator: 'o@example.com',
        object: { id, uuid: UUID, topic: 't', settings: { a: 1, b: [1, 2] }, ...extra },
      },
    });

    it('give the same key for object.id as number and as string', () => {
      expect(canonicalKey(updated(85746065123))).toBe(canonicalKey(updated('85746065123')));
    });

    it('ignore volatile fields at any depth', () => {
      expect(canonicalKey(updated(1, { download_url: 'x', nested: { play_url: 'y', event_ts: 1 } }))).toBe(
        canonicalKey(updated(1, { nested: {} })),
      );
    });

    it('treat array order as data', () => {
      const a = updated(1, { settings: { b: [1, 2] } });
      const b = updated(1, { settings: { b: [2, 1] } });
      expect(canonicalKey(a)).not.toBe(canonicalKey(b));
    });

    it('keep a __proto__ member as data', () => {
      const a = JSON.parse('{"event":"x.y","payload":{"__proto__":{"a":1}}}') as ZoomEnvelope;
      const b = JSON.parse('{"event":"x.y","payload":{"__proto__":{"a":2}}}') as ZoomEnvelope;
      expect(canonicalKey(a)).not.toBe(canonicalKey(b));
    });

    const jsonArb: fc.Arbitrary<Json> = fc.jsonValue() as fc.Arbitrary<Json>;
    const payloadArb = fc.dictionary(fc.string({ maxLength: 8 }), jsonArb, { maxKeys: 6 });

    it('give the same key whatever the key order (property)', () => {
      fc.assert(
        fc.property(payloadArb, (payload) => {
          const e: ZoomEnvelope = { event: 'custom.event', payload };
          expect(canonicalKey(reverseKeys(e) as ZoomEnvelope)).toBe(canonicalKey(e));
        }),
      );
    });

    it('give another key when a non-volatile member is added (property)', () => {
      fc.assert(
        fc.property(payloadArb, fc.string({ minLength: 1, maxLength: 8 }), jsonArb, (payload, k, v) => {
          const added = `added_${k}`;
          fc.pre(!Object.prototype.hasOwnProperty.call(payload, added));
          const e: ZoomEnvelope = { event: 'custom.event', payload };
          const more: ZoomEnvelope = { event: 'custom.event', payload: { ...payload, [added]: v } };
          expect(canonicalKey(more)).not.toBe(canonicalKey(e));
        }),
      );
    });
  });

  it('does not modify the envelope', () => {
    const e = fixture('recording.completed');
    const before = JSON.stringify(e);
    canonicalKey(e);
    canonicalKey({ ...e, event: 'recording.custom_thing' });
    expect(JSON.stringify(e)).toBe(before);
  });
});

describe('canonicalId', () => {
  it('is the full hex SHA-256 of the key', () => {
    const key = canonicalKey(fixture('recording.completed'));
    const id = canonicalId(key);
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    expect(id).toBe(createHash('sha256').update(key, 'utf8').digest('hex'));
  });

  it('is the same for every copy and differs between occurrences', () => {
    expect(canonicalId(canonicalKey(fixture('meeting.started')))).toBe(
      canonicalId(canonicalKey(reverseKeys(fixture('meeting.started')) as ZoomEnvelope)),
    );
    expect(canonicalId(canonicalKey(fixture('meeting.started')))).not.toBe(
      canonicalId(canonicalKey(fixture('meeting.ended'))),
    );
  });
});
