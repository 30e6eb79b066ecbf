import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { decodeFileWorkItem, hasNoDownloadToken } from '@zoom-pipeline/contracts';
import { type ZoomEnvelope, parseEnvelope } from '@zoom-pipeline/zoom-webhook';
import { canonicalKey } from './canonical-key';
import { fileWorkItems } from './file-work-items';

/** docs/ZOOM-FACTS.md §9 fixtures: $ZOOM_FIXTURES_DIR, else the repository copy. */
function zoomFixtureDir(): string {
  const candidates = [process.env.ZOOM_FIXTURES_DIR, path.resolve(__dirname, '../../../test/zoom-sim/fixtures')];
  const dir = candidates.find((d): d is string => d !== undefined && fs.existsSync(d));
  if (dir === undefined) throw new Error('Zoom fixtures not found; set ZOOM_FIXTURES_DIR');
  return dir;
}

const UUID = '/Gx2k7+Rq0S1o9Lb//nYQw==';

function fixture(file: string): ZoomEnvelope {
  const dir = zoomFixtureDir();
  const r = parseEnvelope(
    Buffer.from(JSON.stringify(JSON.parse(fs.readFileSync(path.join(dir, `${file}.json`), 'utf8')))),
  );
  if (!r.ok) throw new Error(`${file}: ${r.reason}`);
  return r.envelope;
}

function withFiles(files: unknown[], audio?: unknown[]): ZoomEnvelope {
  const e = JSON.parse(JSON.stringify(fixture('recording.completed'))) as ZoomEnvelope;
  const object = e.payload.object as Record<string, unknown>;
  object.recording_files = files;
  if (audio !== undefined) object.participant_audio_files = audio;
  return e;
}

const common = { canonicalId: 'c'.repeat(64), app: 'default', tokenReceivedAt: '2025-02-26T19:06:49.640Z' };
const file = (over: Record<string, unknown> = {}) => ({
  id: 'f1',
  file_type: 'MP4',
  file_extension: 'MP4',
  file_size: 10,
  download_url: 'https://us06web.zoom.us/rec/webhook_download/x',
  ...over,
});

describe('fileWorkItems', () => {
  it('makes one item per file of recording.completed, with the contract fields filled from the event', () => {
    const envelope = fixture('recording.completed');
    const { items, skipped } = fileWorkItems({ envelope, ...common });
    expect(skipped).toEqual([]);
    expect(items.map((i) => [i.fileType, i.fileSize])).toEqual([
      ['MP4', 52384915],
      ['M4A', 4876120],
      ['TRANSCRIPT', 18342],
      ['CHAT', 1207],
    ]);
    expect(items[0]).toEqual({
      v: 1,
      fileId: '2f379a68-1c60-4986-a88c-50a8f1788267',
      zoomFileId: '2f379a68-1c60-4986-a88c-50a8f1788267',
      canonicalId: common.canonicalId,
      app: 'default',
      accountId: 'wA8sT3KqRj2cXy7mN0pLzQ',
      meetingUuid: UUID,
      meetingId: '85746065123',
      topic: 'Quarterly planning — Reunión Q1',
      hostId: 'vQ4ZtR9sSbOx1nK2yLw3Hg',
      meetingStartTime: '2025-02-26T18:00:04Z',
      recordingStart: '2025-02-26T18:00:09Z',
      recordingEnd: '2025-02-26T19:01:10Z',
      fileType: 'MP4',
      fileExtension: 'MP4',
      fileSize: 52384915,
      recordingType: 'shared_screen_with_speaker_view',
      downloadUrl:
        'https://us06web.zoom.us/rec/webhook_download/SYNTHdlMp4_Hs8Qz2WvB5nRk1xTy7LpC0aMe4GfUd9J/' +
        'SYNTHsigMp4_r7KcN2pVw9Xb',
      downloadToken: envelope.download_token,
      tokenReceivedAt: common.tokenReceivedAt,
    });
  });

  it('produces items the uploader accepts through the contracts validator', () => {
    for (const item of fileWorkItems({ envelope: fixture('recording.completed'), ...common }).items) {
      expect(decodeFileWorkItem(JSON.stringify(item))).toEqual(item);
    }
  });

  it('makes the transcript item of recording.transcript_completed', () => {
    const { items } = fileWorkItems({ envelope: fixture('recording.transcript_completed'), ...common });
    expect(items.map((i) => [i.fileId, i.fileType, i.fileExtension])).toEqual([
      ['1703d853-b399-4129-b6ee-5aebc54acecc', 'TRANSCRIPT', 'VTT'],
    ]);
  });

  it("pairs each URL with the token of its own delivery and lists the other copies' pairs as alternates", () => {
    const copy1 = fixture('recording.completed');
    const copy2 = JSON.parse(JSON.stringify(copy1)) as ZoomEnvelope;
    copy2.download_token = 'token-of-copy-2';
    for (const f of (copy2.payload.object as { recording_files: Array<Record<string, unknown>> }).recording_files)
      f.download_url = `${String(f.download_url)}-copy2`;
    const { items } = fileWorkItems({
      envelope: copy1,
      ...common,
      copies: [
        { envelope: copy2, receivedAt: '2025-02-26T19:06:49.700Z' },
        { envelope: copy1, receivedAt: '2025-02-26T19:06:50Z' },
      ],
    });
    expect(items).toHaveLength(4);
    for (const item of items) {
      expect(item.downloadToken).toBe(copy1.download_token);
      expect(item.downloadUrl).not.toMatch(/-copy2$/);
      // copy 1 again (a retry with the same pair) adds nothing; copy 2 adds its own pair, never mixed
      expect(item.alternates).toEqual([
        {
          downloadUrl: `${item.downloadUrl}-copy2`,
          downloadToken: 'token-of-copy-2',
          receivedAt: '2025-02-26T19:06:49.700Z',
        },
      ]);
    }
  });

  it('leaves downloadToken out when there is none (the uploader then needs OAuth credentials)', () => {
    const envelope = { ...fixture('recording.completed'), download_token: undefined };
    const [item] = fileWorkItems({ envelope, ...common }).items;
    expect(item).not.toHaveProperty('downloadToken');
    expect(hasNoDownloadToken(item!)).toBe(true);
  });

  it('includes participant_audio_files after recording_files', () => {
    const { items } = fileWorkItems({
      envelope: withFiles([file()], [file({ id: 'a1', file_type: 'M4A', file_extension: 'M4A' })]),
      ...common,
    });
    expect(items.map((i) => i.fileId)).toEqual(['f1', 'a1']);
  });

  it('normalises a numeric meeting id and file id to strings', () => {
    const [item] = fileWorkItems({ envelope: withFiles([file({ id: 42 })]), ...common }).items;
    expect(item?.meetingId).toBe('85746065123');
    expect(item?.fileId).toBe('42');
  });

  it('queues files without id or file_size, flags them, and fails only what cannot be fetched', () => {
    const envelope = withFiles([
      file({ id: undefined, file_type: 'TIMELINE', file_extension: 'JSON', file_size: undefined, status: undefined }),
      file({ id: 'no-url', download_url: undefined }),
      file({ id: 'empty-url', download_url: '' }),
      file({ id: 'no-size', file_type: 'CHAT', file_extension: 'TXT', file_size: undefined }),
      file({ id: 'negative', file_size: -1 }),
      file({ id: 'fraction', file_size: 1.5 }),
      file({ id: 'string-size', file_size: '10' }),
      'not an object',
      file({ id: 'ok' }),
      file({ id: 'ok' }),
      file({ id: 'busy', status: 'processing' }),
    ]);
    const { items, failures, skipped } = fileWorkItems({ envelope, ...common, failedAt: '2025-02-26T19:07:00.000Z' });
    expect(
      items.map((i) => [
        i.fileId.replace(/^derived-[0-9a-f]{32}$/, 'derived'),
        i.fileSize,
        i.sizeUnknown ?? false,
        i.fileStatus ?? 'completed',
      ]),
    ).toEqual([
      ['derived', 0, true, 'completed'],
      ['no-size', 0, true, 'completed'],
      ['negative', 0, true, 'completed'],
      ['fraction', 0, true, 'completed'],
      ['string-size', 0, true, 'completed'],
      ['ok', 10, false, 'completed'],
      ['busy', 10, false, 'processing'],
    ]);
    expect(items[0]).not.toHaveProperty('zoomFileId');
    expect(items[1]?.zoomFileId).toBe('no-size');
    expect(failures.map((f) => [f.fileId, f.reason, f.attempts, f.failedAt])).toEqual([
      ['no-url', 'download_url_missing', 0, '2025-02-26T19:07:00.000Z'],
      ['empty-url', 'download_url_missing', 0, '2025-02-26T19:07:00.000Z'],
      [`${common.canonicalId}:recording_files[7]`, 'file_entry_invalid', 0, '2025-02-26T19:07:00.000Z'],
    ]);
    expect(failures[0]?.message).toBe('the MP4 file has no download_url in the recording event');
    expect(failures[0]?.item).toMatchObject({ fileId: 'no-url', meetingUuid: UUID });
    expect(JSON.stringify(failures)).not.toContain(String(envelope.download_token));
    expect(skipped).toEqual([{ fileId: 'ok', reason: 'duplicate_entry' }]);
  });

  it('derives the same identity for an id-less file in every copy and retry, and another for another file', () => {
    const cc = {
      file_type: 'CC',
      file_extension: 'VTT',
      recording_start: '2025-02-26T18:00:09Z',
      recording_end: '2025-02-26T19:01:10Z',
      download_url: 'https://us06web.zoom.us/rec/webhook_download/cc/1',
    };
    const idOf = (e: ZoomEnvelope) => fileWorkItems({ envelope: e, ...common }).items[0]!.fileId;
    const a = withFiles([cc]);
    const retry = withFiles([{ ...cc, download_url: 'https://us06web.zoom.us/rec/webhook_download/cc/other' }]);
    retry.download_token = 'another-token';
    expect(idOf(a)).toMatch(/^derived-[0-9a-f]{32}$/);
    expect(idOf(retry)).toBe(idOf(a));
    expect(idOf(withFiles([{ ...cc, file_type: 'TIMELINE', file_extension: 'JSON' }]))).not.toBe(idOf(a));
    expect(idOf(withFiles([{ ...cc, recording_start: '2025-02-26T18:30:00Z' }]))).not.toBe(idOf(a));
    const otherMeeting = withFiles([cc]);
    (otherMeeting.payload.object as Record<string, unknown>).uuid = 'other==';
    expect(idOf(otherMeeting)).not.toBe(idOf(a));
  });

  it('stores both files that share an id, told apart by type, extension and times', () => {
    const envelope = withFiles(
      [file({ id: 'shared', file_type: 'MP4' })],
      [file({ id: 'shared', file_type: 'M4A', file_extension: 'M4A' })],
    );
    const { items, skipped } = fileWorkItems({ envelope, ...common });
    expect(skipped).toEqual([]);
    expect(items).toHaveLength(2);
    expect(items.map((i) => i.zoomFileId)).toEqual(['shared', 'shared']);
    expect(items[0]!.fileId).toMatch(/^shared~[0-9a-f]{16}$/);
    expect(items[1]!.fileId).toMatch(/^shared~[0-9a-f]{16}$/);
    expect(items[0]!.fileId).not.toBe(items[1]!.fileId);
    // same identities in a copy
    expect(
      fileWorkItems({ envelope: JSON.parse(JSON.stringify(envelope)) as ZoomEnvelope, ...common }).items.map(
        (i) => i.fileId,
      ),
    ).toEqual(items.map((i) => i.fileId));
  });

  it(
    'numbers id-less entries that differ only in fields outside the derivation (two CC languages with the ' +
      'same times)',
    () => {
      const cc = {
        file_type: 'CC',
        file_extension: 'VTT',
        recording_start: 's',
        recording_end: 'e',
        download_url: 'https://a/1',
      };
      const { items } = fileWorkItems({
        envelope: withFiles([
          { ...cc, file_name: 'en' },
          { ...cc, file_name: 'de', download_url: 'https://a/2' },
        ]),
        ...common,
      });
      expect(items).toHaveLength(2);
      expect(items[1]!.fileId).toBe(`${items[0]!.fileId}~2`);
    },
  );

  it('makes items of Video SDK session.recording_completed keyed by the session id', () => {
    const envelope: ZoomEnvelope = {
      event: 'session.recording_completed',
      download_token: 'tok',
      payload: {
        account_id: 'acc',
        object: {
          session_id: 'S==',
          session_name: 'Сессия',
          session_key: 'k1',
          start_time: '2025-02-26T18:00:00Z',
          timezone: 'UTC',
          recording_files: [file({ id: 'sf1' })],
        },
      },
    };
    const [item] = fileWorkItems({ envelope, ...common }).items;
    expect(item).toMatchObject({
      fileId: 'sf1',
      meetingUuid: 'S==',
      meetingId: 'k1',
      topic: 'Сессия',
      accountId: 'acc',
      downloadToken: 'tok',
    });
  });

  it('fails every file when the instance UUID is missing', () => {
    const envelope = withFiles([file()]);
    delete (envelope.payload.object as Record<string, unknown>).uuid;
    const r = fileWorkItems({ envelope, ...common });
    expect(r.items).toEqual([]);
    expect(r.failures.map((f) => [f.fileId, f.reason])).toEqual([['f1', 'file_entry_invalid']]);
  });

  it.each(['meeting.started', 'meeting.participant_joined', 'meeting.rtms_started', 'app_deauthorized'])(
    'gives no items for %s',
    (name) => {
      expect(fileWorkItems({ envelope: fixture(name), ...common })).toEqual({ items: [], failures: [], skipped: [] });
    },
  );

  it('gives no items for other recording events, such as recording.trashed', () => {
    expect(
      fileWorkItems({ envelope: { ...fixture('recording.completed'), event: 'recording.trashed' }, ...common }).items,
    ).toEqual([]);
  });
});

describe('fileWorkItems over the pipeline fixtures', () => {
  it('recording.completed.all_file_shapes: every entry queued once or failed, both shared-id files kept', () => {
    const envelope = fixture('recording.completed.all_file_shapes');
    const { items, failures, skipped } = fileWorkItems({ envelope, ...common });
    expect(failures).toEqual([]);
    expect(skipped).toEqual([]);
    expect(
      items.map((i) => [i.fileType, i.zoomFileId ?? '(none)', i.sizeUnknown ?? false, i.fileStatus ?? 'completed']),
    ).toEqual([
      ['MP4', '2f379a68-1c60-4986-a88c-50a8f1788267', false, 'completed'],
      ['M4A', expect.any(String), false, 'completed'],
      ['CC', '(none)', true, 'completed'],
      ['TIMELINE', '(none)', true, 'completed'],
      ['CHAT', expect.any(String), true, 'completed'],
      ['MP4', '9d0c3b6a-4e2f-4a7b-8c1d-5e6f7a8b9c0d', false, 'processing'],
      ['M4A', '2f379a68-1c60-4986-a88c-50a8f1788267', false, 'completed'],
    ]);
    expect(new Set(items.map((i) => i.fileId)).size).toBe(items.length);
    expect(items[0]!.fileId).toMatch(/^2f379a68-1c60-4986-a88c-50a8f1788267~[0-9a-f]{16}$/);
    expect(items.every((i) => i.topic === 'Квартальное планирование — Q1')).toBe(true);
  });

  it('session.recording_completed: the session id is the instance, the session key the meeting id', () => {
    const { items } = fileWorkItems({ envelope: fixture('session.recording_completed'), ...common });
    expect(items.map((i) => [i.fileType, i.meetingUuid, i.meetingId, i.sizeUnknown ?? false])).toEqual([
      ['MP4', 'Vd7kQ2r+Lm9sTz4w//Xy1A==', 'support-room-7', false],
      ['CC', 'Vd7kQ2r+Lm9sTz4w//Xy1A==', 'support-room-7', true],
      ['M4A', 'Vd7kQ2r+Lm9sTz4w//Xy1A==', 'support-room-7', false],
    ]);
  });
});

describe('fileWorkItems (properties)', () => {
  const OPTIONAL = [
    'id',
    'file_size',
    'status',
    'recording_type',
    'play_url',
    'download_url',
    'recording_start',
    'recording_end',
    'file_extension',
  ] as const;
  const TYPES = ['MP4', 'M4A', 'CC', 'TIMELINE', 'CHAT', 'TRANSCRIPT', 'CSV', 'SUMMARY'];
  const fileArb = fc.record({
    id: fc.constantFrom('id-a', 'id-b', 'id-c', '7'),
    file_type: fc.constantFrom(...TYPES),
    file_extension: fc.constantFrom('MP4', 'M4A', 'VTT', 'JSON', 'TXT'),
    file_size: fc.oneof(fc.nat({ max: 10_000 }), fc.constant(-1), fc.constant('12')),
    status: fc.constantFrom('completed', 'processing'),
    recording_type: fc.constantFrom('shared_screen_with_speaker_view', 'audio_only'),
    play_url: fc.constant('https://us06web.zoom.us/rec/play/x'),
    download_url: fc.webUrl(),
    recording_start: fc.constantFrom('2025-02-26T18:00:09Z', '2025-02-26T18:30:00Z'),
    recording_end: fc.constantFrom('2025-02-26T19:01:10Z', '2025-02-26T19:30:00Z'),
    drop: fc.subarray([...OPTIONAL]),
  });
  const eventArb = fc.record({
    files: fc.array(fileArb, { maxLength: 8 }),
    audio: fc.array(fileArb, { maxLength: 3 }),
    topic: fc.string({ unit: 'grapheme', maxLength: 40 }),
    token: fc.option(
      fc.string({ minLength: 1, maxLength: 12 }).map((t) => `tok-${t}`),
      { nil: undefined },
    ),
  });
  type FileSample = typeof fileArb extends fc.Arbitrary<infer T> ? T : never;
  const toEntry = (f: FileSample): Record<string, unknown> => {
    const { drop, ...entry } = f as Record<string, unknown> & { drop: string[] };
    for (const k of drop) delete entry[k];
    return entry;
  };
  const build = (e: { files: FileSample[]; audio: FileSample[]; topic: string; token?: string }): ZoomEnvelope => {
    const env = withFiles(e.files.map(toEntry), e.audio.map(toEntry));
    (env.payload.object as Record<string, unknown>).topic = e.topic;
    if (e.token === undefined) delete env.download_token;
    else env.download_token = e.token;
    return env;
  };
  /** What Zoom's simultaneous copy looks like: other token, other URLs (S10). */
  const copyOf = (env: ZoomEnvelope): ZoomEnvelope => {
    const c = JSON.parse(JSON.stringify(env)) as ZoomEnvelope;
    c.download_token = 'token-of-the-copy';
    const o = c.payload.object as Record<string, Array<Record<string, unknown>>>;
    for (const list of ['recording_files', 'participant_audio_files'])
      for (const f of o[list] ?? []) if (typeof f.download_url === 'string') f.download_url += '/copy';
    return c;
  };

  it('accounts for every entry: queued, failed with a reason, or a repeat; never two items per id', () => {
    fc.assert(
      fc.property(eventArb, (e) => {
        const env = build(e);
        const r = fileWorkItems({ envelope: env, ...common });
        expect(r.items.length + r.failures.length + r.skipped.length).toBe(e.files.length + e.audio.length);
        expect(new Set(r.items.map((i) => i.fileId)).size).toBe(r.items.length);
        for (const i of r.items) {
          expect(i.downloadUrl).not.toBe('');
          expect(i.topic).toBe(e.topic);
          expect(decodeFileWorkItem(JSON.stringify(i), { alternates: true })).toEqual(i);
          if (i.sizeUnknown) expect(i.fileSize).toBe(0);
        }
        for (const f of r.failures) expect(f.reason).toBe('download_url_missing');
        if (e.token !== undefined) expect(JSON.stringify(r.failures)).not.toContain(e.token);
      }),
    );
  });

  it('gives a simultaneous copy the same canonical key (so it is deduplicated) whatever fields its files lack', () => {
    fc.assert(
      fc.property(eventArb, (e) => {
        const env = build(e);
        expect(canonicalKey(copyOf(env))).toBe(canonicalKey(env));
      }),
    );
  });

  it('gives a simultaneous copy and a retry the same identities, pairing each URL with its own token', () => {
    fc.assert(
      fc.property(eventArb, (e) => {
        const env = build(e);
        const copy = copyOf(env);
        const own = fileWorkItems({ envelope: env, ...common, copies: [{ envelope: copy, receivedAt: 'r2' }] });
        const fromCopy = fileWorkItems({ envelope: copy, ...common });
        expect(fromCopy.items.map((i) => i.fileId)).toEqual(own.items.map((i) => i.fileId));
        own.items.forEach((item, n) => {
          expect(item.downloadToken).toBe(e.token);
          expect(item.downloadUrl.endsWith('/copy')).toBe(false);
          const pair = { downloadToken: 'token-of-the-copy', receivedAt: 'r2' };
          expect(item.alternates?.[0]).toEqual({ downloadUrl: fromCopy.items[n]!.downloadUrl, ...pair });
          // A file listed twice (equal but for its URL) is one file: the copy's other listing is an alternate too.
          for (const a of item.alternates ?? [])
            expect(a).toEqual({ downloadUrl: expect.stringMatching(/\/copy$/), ...pair });
        });
      }),
    );
  });
});
