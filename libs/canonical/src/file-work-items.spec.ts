import * as fs from 'node:fs';
import * as path from 'node:path';
import { decodeFileWorkItem } from '@zoom-pipeline/contracts';
import { type ZoomEnvelope, parseEnvelope } from '@zoom-pipeline/zoom-webhook';
import { fileWorkItems } from './file-work-items';

/** ZOOM.md §9 fixtures: $ZOOM_FIXTURES_DIR, else the repository copy, else the shared workspace copy. */
function zoomFixtureDir(): string {
  const candidates = [process.env.ZOOM_FIXTURES_DIR, path.resolve(__dirname, '../../../test/zoom-sim/fixtures'), path.resolve(__dirname, '../../../../shared/zoom-fixtures')];
  const dir = candidates.find((d): d is string => d !== undefined && fs.existsSync(d));
  if (dir === undefined) throw new Error('Zoom fixtures not found; set ZOOM_FIXTURES_DIR');
  return dir;
}

const UUID = '/Gx2k7+Rq0S1o9Lb//nYQw==';

function fixture(file: string): ZoomEnvelope {
  const dir = zoomFixtureDir();
  const r = parseEnvelope(Buffer.from(JSON.stringify(JSON.parse(fs.readFileSync(path.join(dir, `${file}.json`), 'utf8')))));
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
const file = (over: Record<string, unknown> = {}) => ({ id: 'f1', file_type: 'MP4', file_extension: 'MP4', file_size: 10, download_url: 'https://us06web.zoom.us/rec/webhook_download/x', ...over });

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
      downloadUrl: 'https://us06web.zoom.us/rec/webhook_download/SYNTHdlMp4_Hs8Qz2WvB5nRk1xTy7LpC0aMe4GfUd9J/SYNTHsigMp4_r7KcN2pVw9Xb',
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
    expect(items.map((i) => [i.fileId, i.fileType, i.fileExtension])).toEqual([['1703d853-b399-4129-b6ee-5aebc54acecc', 'TRANSCRIPT', 'VTT']]);
  });

  it('uses the download token it is given (a fresher one) over the envelope token', () => {
    const { items } = fileWorkItems({ envelope: fixture('recording.completed'), ...common, downloadToken: 'fresher' });
    expect(items.every((i) => i.downloadToken === 'fresher')).toBe(true);
  });

  it('leaves downloadToken out when there is none (the uploader then uses S2S OAuth)', () => {
    const envelope = { ...fixture('recording.completed'), download_token: undefined };
    const [item] = fileWorkItems({ envelope, ...common }).items;
    expect(item).not.toHaveProperty('downloadToken');
  });

  it('includes participant_audio_files after recording_files', () => {
    const { items } = fileWorkItems({ envelope: withFiles([file()], [file({ id: 'a1', file_type: 'M4A', file_extension: 'M4A' })]), ...common });
    expect(items.map((i) => i.fileId)).toEqual(['f1', 'a1']);
  });

  it('normalises a numeric meeting id and file id to strings', () => {
    const [item] = fileWorkItems({ envelope: withFiles([file({ id: 42 })]), ...common }).items;
    expect(item?.meetingId).toBe('85746065123');
    expect(item?.fileId).toBe('42');
  });

  it('skips files it cannot store, with the reason, and keeps the others', () => {
    const envelope = withFiles([
      file({ id: undefined, file_type: 'TIMELINE' }),
      file({ id: 'no-url', download_url: undefined }),
      file({ id: 'empty-url', download_url: '' }),
      file({ id: 'no-size', file_size: undefined }),
      file({ id: 'negative', file_size: -1 }),
      file({ id: 'fraction', file_size: 1.5 }),
      file({ id: 'string-size', file_size: '10' }),
      'not an object',
      file({ id: 'ok' }),
      file({ id: 'ok' }),
    ]);
    const { items, skipped } = fileWorkItems({ envelope, ...common });
    expect(items.map((i) => i.fileId)).toEqual(['ok']);
    expect(skipped).toEqual([
      { reason: 'file_id_missing' },
      { fileId: 'no-url', reason: 'download_url_missing' },
      { fileId: 'empty-url', reason: 'download_url_missing' },
      { fileId: 'no-size', reason: 'file_size_invalid' },
      { fileId: 'negative', reason: 'file_size_invalid' },
      { fileId: 'fraction', reason: 'file_size_invalid' },
      { fileId: 'string-size', reason: 'file_size_invalid' },
      { reason: 'not_an_object' },
      { fileId: 'ok', reason: 'duplicate_file_id' },
    ]);
  });

  it('skips every file when the meeting UUID is missing', () => {
    const envelope = withFiles([file()]);
    delete (envelope.payload.object as Record<string, unknown>).uuid;
    expect(fileWorkItems({ envelope, ...common })).toEqual({ items: [], skipped: [{ fileId: 'f1', reason: 'meeting_uuid_missing' }] });
  });

  it.each(['meeting.started', 'meeting.participant_joined', 'meeting.rtms_started', 'app_deauthorized'])('gives no items for %s', (name) => {
    expect(fileWorkItems({ envelope: fixture(name), ...common })).toEqual({ items: [], skipped: [] });
  });

  it('gives no items for other recording events, such as recording.trashed', () => {
    expect(fileWorkItems({ envelope: { ...fixture('recording.completed'), event: 'recording.trashed' }, ...common }).items).toEqual([]);
  });
});
