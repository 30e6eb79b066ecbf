import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import type { FileWorkItem } from '@zoom-pipeline/contracts';
import { parseEnvelope } from '@zoom-pipeline/zoom-webhook';
import { fileWorkItems } from './file-work-items';
import {
  DEFAULT_OBJECT_KEY_TEMPLATE,
  MAX_KEY_VALUE_LENGTH,
  OBJECT_KEY_PLACEHOLDERS,
  ObjectKeyTemplateError,
  findObjectKeyCollisions,
  objectKey,
  sanitiseKeyValue,
  validateObjectKeyTemplate,
} from './object-key';

/** docs/ZOOM-FACTS.md §9 fixtures: $ZOOM_FIXTURES_DIR, else the repository copy. */
function zoomFixtureDir(): string {
  const candidates = [process.env.ZOOM_FIXTURES_DIR, path.resolve(__dirname, '../../../test/zoom-sim/fixtures')];
  const dir = candidates.find((d): d is string => d !== undefined && fs.existsSync(d));
  if (dir === undefined) throw new Error('Zoom fixtures not found; set ZOOM_FIXTURES_DIR');
  return dir;
}

function fixtureItems(file: string): FileWorkItem[] {
  const dir = zoomFixtureDir();
  const r = parseEnvelope(
    Buffer.from(JSON.stringify(JSON.parse(fs.readFileSync(path.join(dir, `${file}.json`), 'utf8')))),
  );
  if (!r.ok) throw new Error(`${file}: ${r.reason}`);
  return fileWorkItems({
    envelope: r.envelope,
    canonicalId: 'c'.repeat(64),
    app: 'default',
    tokenReceivedAt: '2025-02-26T19:06:49Z',
  }).items;
}

const item = (over: Partial<FileWorkItem> = {}): FileWorkItem => ({
  v: 1,
  fileId: '2f379a68-1c60-4986-a88c-50a8f1788267',
  canonicalId: 'c'.repeat(64),
  app: 'default',
  accountId: 'wA8sT3KqRj2cXy7mN0pLzQ',
  meetingUuid: '/Gx2k7+Rq0S1o9Lb//nYQw==',
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
  downloadUrl: 'https://us06web.zoom.us/rec/webhook_download/x',
  tokenReceivedAt: '2025-02-26T19:06:49Z',
  ...over,
});

const SAFE_KEY = /^[\p{L}\p{M}\p{N}._\-/~]+$/u;

const sha10 = (v: string) => createHash('sha256').update(v).digest('hex').slice(0, 10);

function expectSafeKey(key: string, segments: number): void {
  expect(key).toMatch(SAFE_KEY);
  expect(key.startsWith('/')).toBe(false);
  expect(key.endsWith('/')).toBe(false);
  expect(key).not.toContain('//');
  const parts = key.split('/');
  expect(parts).toHaveLength(segments);
  for (const p of parts) expect(p === '.' || p === '..' || p === '').toBe(false);
  expect(Buffer.byteLength(key)).toBeLessThanOrEqual(1024);
  for (const p of parts) expect(Buffer.byteLength(p)).toBeLessThanOrEqual(255);
  expect(key).not.toMatch(/\._$/);
}

describe('objectKey with the SPEC §6 default template', () => {
  it('stores the fixture recording under account, meeting date, meeting and segment start', () => {
    expect(fixtureItems('recording.completed').map((i) => objectKey(DEFAULT_OBJECT_KEY_TEMPLATE, i))).toEqual([
      'wA8sT3KqRj2cXy7mN0pLzQ/2025/02/26/85746065123-Quarterly_planning_Reunión_Q1/20250226T180009Z-MP4.mp4',
      'wA8sT3KqRj2cXy7mN0pLzQ/2025/02/26/85746065123-Quarterly_planning_Reunión_Q1/20250226T180009Z-M4A.m4a',
      'wA8sT3KqRj2cXy7mN0pLzQ/2025/02/26/85746065123-Quarterly_planning_Reunión_Q1/20250226T180009Z-TRANSCRIPT.vtt',
      'wA8sT3KqRj2cXy7mN0pLzQ/2025/02/26/85746065123-Quarterly_planning_Reunión_Q1/20250226T180009Z-CHAT.txt',
    ]);
  });

  it('maps the later transcript to the same key as the transcript inside recording.completed (stored once)', () => {
    const [transcript] = fixtureItems('recording.transcript_completed');
    expect(objectKey(DEFAULT_OBJECT_KEY_TEMPLATE, transcript!)).toBe(
      objectKey(DEFAULT_OBJECT_KEY_TEMPLATE, fixtureItems('recording.completed')[2]!),
    );
  });

  it('keeps two segments of one recording (stopped and restarted) apart', () => {
    const first = item({
      fileId: 'seg-1',
      recordingStart: '2025-02-26T18:00:09Z',
      recordingEnd: '2025-02-26T18:30:00Z',
    });
    const second = item({
      fileId: 'seg-2',
      recordingStart: '2025-02-26T18:41:27Z',
      recordingEnd: '2025-02-26T19:01:10Z',
    });
    expect(objectKey(DEFAULT_OBJECT_KEY_TEMPLATE, first)).toMatch(/\/20250226T180009Z-MP4\.mp4$/);
    expect(objectKey(DEFAULT_OBJECT_KEY_TEMPLATE, second)).toMatch(/\/20250226T184127Z-MP4\.mp4$/);
    expect(findObjectKeyCollisions(DEFAULT_OBJECT_KEY_TEMPLATE, [first, second])).toEqual([]);
  });

  it('reports two MP4 views of one segment as colliding, and {file_id} or {recording_type} resolves it', () => {
    const speaker = item({ fileId: 'view-1', recordingType: 'speaker_view' });
    const gallery = item({ fileId: 'view-2', recordingType: 'gallery_view' });
    expect(findObjectKeyCollisions(DEFAULT_OBJECT_KEY_TEMPLATE, [speaker, gallery])).toEqual([
      { key: objectKey(DEFAULT_OBJECT_KEY_TEMPLATE, speaker), fileIds: ['view-1', 'view-2'] },
    ]);
    expect(
      findObjectKeyCollisions(DEFAULT_OBJECT_KEY_TEMPLATE.replace('{file_type}', '{file_type}-{file_id}'), [
        speaker,
        gallery,
      ]),
    ).toEqual([]);
    expect(
      findObjectKeyCollisions(DEFAULT_OBJECT_KEY_TEMPLATE.replace('{file_type}', '{file_type}-{recording_type}'), [
        speaker,
        gallery,
      ]),
    ).toEqual([]);
  });

  it('does not report the same file twice as a collision', () => {
    expect(findObjectKeyCollisions(DEFAULT_OBJECT_KEY_TEMPLATE, [item(), item()])).toEqual([]);
  });

  it("dates the path by the file's recording start in UTC, whatever offset Zoom used", () => {
    const key = objectKey(
      DEFAULT_OBJECT_KEY_TEMPLATE,
      item({ meetingStartTime: '2025-02-26T23:30:00-05:00', recordingStart: '2025-02-27T04:30:05.250Z' }),
    );
    expect(key).toBe(
      'wA8sT3KqRj2cXy7mN0pLzQ/2025/02/27/85746065123-Quarterly_planning_Reunión_Q1/20250227T043005.250Z-MP4.mp4',
    );
  });

  it('dates a recording by its own start, not by a meeting instance that started days earlier', () => {
    const key = objectKey(
      DEFAULT_OBJECT_KEY_TEMPLATE,
      item({ meetingStartTime: '2023-11-03T09:00:00Z', recordingStart: '2023-11-16T14:02:11Z' }),
    );
    expect(key).toContain('/2023/11/16/');
  });

  it('falls back to the meeting start for the date, then to "_", when the recording start is unusable', () => {
    expect(
      objectKey(DEFAULT_OBJECT_KEY_TEMPLATE, item({ recordingStart: '', meetingStartTime: '2025-02-25T18:00:04Z' })),
    ).toContain('/2025/02/25/');
    const key = objectKey(
      DEFAULT_OBJECT_KEY_TEMPLATE,
      item({ meetingStartTime: 'yesterday', recordingStart: 'Feb 26 2025 18:00' }),
    );
    expect(key).toMatch(
      new RegExp(
        '^wA8sT3KqRj2cXy7mN0pLzQ/_/_/_/85746065123-Quarterly_planning_Reunión_Q1/' +
          String.raw`Feb_26_2025_18_00~[0-9a-f]{10}-MP4\.mp4$`,
      ),
    );
  });

  it('keeps Cyrillic, CJK and Arabic topics readable (NFC) instead of stripping them to nothing', () => {
    const topic = (t: string) => objectKey(DEFAULT_OBJECT_KEY_TEMPLATE, item({ topic: t })).split('/')[4];
    expect(topic('Планёрка команды')).toBe('85746065123-Планёрка_команды');
    expect(topic('週次 定例会議')).toBe('85746065123-週次_定例会議');
    expect(topic('اجتماع الفريق')).toBe('85746065123-اجتماع_الفريق');
    expect(topic('Reunio\u0301n')).toBe('85746065123-Reunión'); // decomposed input, composed key
  });

  it('ends the key without "._" when Zoom sent no file_extension', () => {
    const key = objectKey(DEFAULT_OBJECT_KEY_TEMPLATE, item({ fileExtension: '', fileType: 'TIMELINE' }));
    expect(key.endsWith('/20250226T180009Z-TIMELINE')).toBe(true);
    expect(objectKey('{file_id}/{ext}', item({ fileExtension: '' }))).toBe('2f379a68-1c60-4986-a88c-50a8f1788267/_');
  });

  it('gives different file ids different keys even when sanitising changes them (u/a, u?a, u a)', () => {
    const template = DEFAULT_OBJECT_KEY_TEMPLATE.replace('{file_type}', '{file_type}-{file_id}');
    const keys = ['u/a', 'u?a', 'u a', 'u_a', 'u__a'].map((fileId) => objectKey(template, item({ fileId })));
    expect(new Set(keys).size).toBe(keys.length);
    expect(keys[3]).toMatch(/-u_a\.mp4$/); // an id that needs no change keeps its plain form
  });

  it('keeps every segment within 255 bytes and the whole key within 1024 (filesystem names, S3 keys)', () => {
    const key = objectKey(
      '{file_id}-{topic}-{host_id}-{account_id}/{file_id}',
      item({ fileId: 'é'.repeat(300), topic: '会'.repeat(300), hostId: 'h'.repeat(300), accountId: 'a'.repeat(300) }),
    );
    for (const segment of key.split('/')) expect(Buffer.byteLength(segment)).toBeLessThanOrEqual(255);
    expect(objectKey('{file_id}', item({ fileId: 'x'.repeat(300) }))).not.toBe(
      objectKey('{file_id}', item({ fileId: 'x'.repeat(301) })),
    );
  });
});

describe('objectKey placeholders', () => {
  it.each<[string, Partial<FileWorkItem>, string]>([
    ['{meeting_uuid}', {}, '_Gx2k7-Rq0S1o9Lb__nYQw'],
    ['{meeting_uuid}', { meetingUuid: 'not base64 / at all' }, `not_base64_at_all~${sha10('not base64 / at all')}`],
    ['{host_id}', {}, 'vQ4ZtR9sSbOx1nK2yLw3Hg'],
    ['{recording_end}', {}, '20250226T190110Z'],
    ['{file_id}', {}, '2f379a68-1c60-4986-a88c-50a8f1788267'],
    [
      '{recording_type}',
      { recordingType: 'shared_screen_with_speaker_view(CC)' },
      'shared_screen_with_speaker_view_CC_',
    ],
    ['{recording_type}', { recordingType: undefined }, '_'],
    ['{ext}', { fileExtension: 'JSON' }, 'json'],
    ['{yyyy}-{mm}-{dd}', {}, '2025-02-26'],
    ['{app_user_id}', { appUserId: 'alice-42' }, 'alice-42'],
    ['{app_user_id}', { appUserId: 'a/b' }, `a_b~${sha10('a/b')}`],
    ['{app_user_id}', {}, 'unlinked'],
  ])('%s gives %s', (placeholder, over, value) => {
    // {file_id} keeps the test template valid; it is stripped off again.
    expect(objectKey(`${placeholder}/{file_id}`, item(over)).split('/')[0]).toBe(value);
  });

  it('keeps different meeting UUIDs apart even where the generic sanitiser would merge them', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        (a, b) => {
          fc.pre(Buffer.compare(Buffer.from(a), Buffer.from(b)) !== 0);
          const key = (bytes: Uint8Array) =>
            objectKey('{meeting_uuid}/{file_id}', item({ meetingUuid: Buffer.from(bytes).toString('base64') }));
          expect(key(a)).not.toBe(key(b));
        },
      ),
    );
  });
});

describe('validateObjectKeyTemplate', () => {
  it.each([
    DEFAULT_OBJECT_KEY_TEMPLATE,
    '{file_id}',
    'recordings/{account_id}/{meeting_uuid}/{recording_start}-{file_type}.{ext}',
    'zoom/{yyyy}/{mm}/{meeting_id}/{file_id}.{ext}',
    '{host_id}/{topic}/{recording_end}/{recording_type}/{file_id}',
  ])('accepts %s', (template) => {
    expect(validateObjectKeyTemplate(template)).toEqual([]);
  });

  it.each([
    ['an empty template', '', 'empty'],
    ['an unknown placeholder', '{account_id}/{meeting}/{file_id}', 'unknown placeholder {meeting}'],
    ['an unclosed brace', '{account_id}/{file_id', 'unbalanced "{"'],
    ['a stray closing brace', 'a}/{file_id}', 'unbalanced "}"'],
    ['a leading slash', '/{account_id}/{file_id}', 'must not start with "/"'],
    ['a trailing slash', '{account_id}/{file_id}/', 'must not end with "/"'],
    ['an empty segment', '{account_id}//{file_id}', '"//"'],
    ['a ".." segment', '{account_id}/../{file_id}', '"." or ".." segment'],
    ['a "." segment', './{file_id}', '"." or ".." segment'],
    ['unsafe literal text', 'zoom recordings/{file_id}', 'literal text "zoom recordings/"'],
    ['no way to tell files apart', '{meeting_uuid}/{file_type}.{ext}', 'must contain {file_id}'],
    ['{recording_start} without a meeting', '{yyyy}/{recording_start}-{file_type}.{ext}', 'must contain {file_id}'],
    ['a template that allows keys over 1024 characters', `${'x'.repeat(1000)}/{file_id}`, 'S3 allows 1024'],
  ])('refuses %s', (_name, template, problem) => {
    const problems = validateObjectKeyTemplate(template);
    expect(problems.some((p) => p.includes(problem))).toBe(true);
  });

  it('lists every problem, one per line', () => {
    expect(validateObjectKeyTemplate('/{nope}//{also_nope}')).toHaveLength(6);
  });

  it('makes objectKey throw a coded error for an invalid template', () => {
    expect(() => objectKey('{account_id}/{nope}', item())).toThrow(ObjectKeyTemplateError);
    try {
      objectKey('{account_id}/{nope}', item());
    } catch (e) {
      expect((e as ObjectKeyTemplateError).code).toBe('invalid_object_key_template');
      expect((e as ObjectKeyTemplateError).problems.length).toBeGreaterThan(0);
    }
  });
});

describe('sanitiseKeyValue', () => {
  it.each([
    ['Quarterly planning — Reunión Q1', 'Quarterly_planning_Reunión_Q1'],
    ['Año Niño ﬁnal', 'Año_Niño_ﬁnal'],
    ['/Gx2k7+Rq0S1o9Lb//nYQw==', '_Gx2k7_Rq0S1o9Lb_nYQw_'],
    ['../../etc/passwd', '_._etc_passwd'],
    ['..', '_'],
    ['.', '_'],
    ['.hidden', '_hidden'],
    ['a...b', 'a.b'],
    ['', '_'],
    ['   ', '_'],
    ['会議', '会議'],
    ['\u202Bمرحبا\u202C', '_مرحبا_'],
    ['会'.repeat(40), '会'.repeat(26)],
    ['tab\tand\nnewline', 'tab_and_newline'],
    ['x'.repeat(200), 'x'.repeat(MAX_KEY_VALUE_LENGTH)],
  ])('%j → %j', (value, expected) => {
    expect(sanitiseKeyValue(value)).toBe(expected);
  });

  const anyText = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 200 }),
    fc.string({
      unit: fc.constantFrom('.', '/', '_', ' ', 'ñ', 'a', '\u0301', '+', '=', '\\', '\u0000'),
      maxLength: 40,
    }),
  );

  it(
    'always gives 1 to 80 bytes of letters, digits, ".", "_", "-", never starting with "." nor containing ' +
      '".." or "__" (property)',
    () => {
      fc.assert(
        fc.property(anyText, (v) => {
          const s = sanitiseKeyValue(v);
          expect(s).toBe(s.normalize('NFC'));
          expect(s).toMatch(/^[\p{L}\p{M}\p{N}._-]+$/u);
          expect(Buffer.byteLength(s)).toBeGreaterThanOrEqual(1);
          expect(Buffer.byteLength(s)).toBeLessThanOrEqual(80);
          expect(s.startsWith('.')).toBe(false);
          expect(s).not.toContain('..');
          expect(s).not.toContain('__');
        }),
      );
    },
  );

  it('never ends a value in "._", even when the value is already made of safe characters or a cut leaves it', () => {
    expect(sanitiseKeyValue('\u0301._')).toBe('\u0301_');
    expect(sanitiseKeyValue('a_._')).toBe('a_');
    expect(sanitiseKeyValue('._')).toBe('_');
    expect(sanitiseKeyValue('report.')).toBe('report.');
  });

  it('is deterministic and idempotent (property)', () => {
    fc.assert(
      fc.property(anyText, (v) => {
        expect(sanitiseKeyValue(v)).toBe(sanitiseKeyValue(v));
        expect(sanitiseKeyValue(sanitiseKeyValue(v))).toBe(sanitiseKeyValue(v));
      }),
    );
  });

  describe('whole keys (property)', () => {
    const text = fc.oneof(
      anyText,
      fc.constantFrom('', '.', '..', '/', '//', '2025-02-26T18:00:09Z', '/Gx2k7+Rq0S1o9Lb//nYQw=='),
    );
    const itemArb = fc
      .record({
        accountId: text,
        meetingUuid: text,
        meetingId: text,
        topic: text,
        hostId: text,
        meetingStartTime: text,
        recordingStart: text,
        recordingEnd: text,
        fileType: text,
        fileExtension: text,
        fileId: text,
        recordingType: fc.option(text, { nil: undefined }),
      })
      .map((over) => item(over));

    it('the default template gives its 6 segments of safe characters for any item, the same every time', () => {
      fc.assert(
        fc.property(itemArb, (i) => {
          const key = objectKey(DEFAULT_OBJECT_KEY_TEMPLATE, i);
          expectSafeKey(key, 6);
          expect(objectKey(DEFAULT_OBJECT_KEY_TEMPLATE, i)).toBe(key);
        }),
      );
    });

    const placeholder = fc.constantFrom(...OBJECT_KEY_PLACEHOLDERS).map((p) => `{${p}}`);
    const literal = fc.string({ unit: fc.constantFrom('a', 'Z', '0', '.', '_', '-'), minLength: 1, maxLength: 4 });
    const segment = fc
      .array(fc.oneof(placeholder, literal), { minLength: 1, maxLength: 4 })
      .map((parts) => parts.join(''));
    const templateArb = fc
      .array(segment, { minLength: 1, maxLength: 5 })
      .map((segments) => [...segments, '{file_id}'].join('/'));

    it('never leaves a "." segment when an empty extension meets a literal dot (found by the property below)', () => {
      expect(objectKey('{ext}./{file_id}', item({ fileExtension: '' })).split('/')[0]).toBe('_');
    });

    it('any valid template gives exactly its own segments, all safe, whatever the values', () => {
      fc.assert(
        fc.property(templateArb, itemArb, (template, i) => {
          fc.pre(validateObjectKeyTemplate(template).length === 0);
          expectSafeKey(objectKey(template, i), template.split('/').length);
        }),
      );
    });
  });
});
