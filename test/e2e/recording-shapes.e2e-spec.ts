/**
 * Every file and every event in the shapes Zoom really sends (docs/ZOOM-PLATFORM.md), against real Kafka, Redis
 * and S3 with ingress, dedup and uploader as processes and zoom-sim as Zoom.
 *
 * One recording.completed with MP4, M4A, CC and TIMELINE without id/size/status, CHAT without size, a file still
 * processing, a participant audio file sharing the MP4's id, a file without download_url and a Cyrillic topic, sent
 * as 2 simultaneous copies + 1 retry. Webinar and Video SDK RTMS and recording events are keyed and deduplicated like
 * meeting ones. The files of unknown size are stored (the CHAT one is served without Content-Length), and a copy
 * whose token Zoom refuses falls back to the other copy's own URL/token pair.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { GetObjectCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { objectKey } from '@zoom-pipeline/canonical';
import { DEFAULT_OBJECT_KEY_TEMPLATE } from '@zoom-pipeline/config';
import {
  TOPICS,
  type FileWorkItem,
  decodeCanonicalEvent,
  decodeDuplicateDelivery,
  decodeFileWorkItem,
  decodeUploadFailure,
  decodeUploadResult,
} from '@zoom-pipeline/contracts';
import {
  type AppProcess,
  REPO_ROOT,
  type TopicMark,
  loadEndpoints,
  markTopics,
  readTopic,
  removeBucket,
  startApp,
  testKafka,
  uniqueName,
  waitFor,
  uploaderS3Env,
} from '@zoom-pipeline/test-support';
import {
  type DownloadServer,
  type SimFile,
  ZoomWebhookSender,
  recordingCompleted,
  rtmsEvent,
  sessionRecordingCompleted,
  startDownloadServer,
  zoomMeetingUuid,
} from '@zoom-pipeline/zoom-sim';
import { RETRY_HEADERS } from '@zoom-pipeline/uploader-feature';

jest.setTimeout(300_000);

const SECRET = 'shapes-e2e-secret';
const TOPIC = 'Квартальное планирование — Q1';
const e = loadEndpoints();
const bucket = uniqueName('zp-shapes');
const s3 = new S3Client({
  endpoint: e.s3.endpoint,
  region: e.s3.region,
  forcePathStyle: true,
  credentials: { accessKeyId: e.s3.accessKeyId, secretAccessKey: e.s3.secretAccessKey },
});
const apps: AppProcess[] = [];
let dl: DownloadServer;
let sender: ZoomWebhookSender;
let dedup: AppProcess;
let uploader: AppProcess;
let marks = new Map<string, TopicMark>();
let bodies: Array<{ download_token: string }> = [];
let fixture: { mp4: SimFile; chat: SimFile; processing: SimFile; token0: string } | undefined;

const clusterEnv = (): Record<string, string> => ({
  KAFKA_BROKERS: e.kafkaBrokers,
  REDIS_URL: e.redisUrl,
  REDIS_KEY_PREFIX: `${bucket}:`,
});

async function start(
  name: 'ingress' | 'dedup' | 'uploader',
  env: Record<string, string>,
  waitForProbe: 'healthz' | 'readyz',
): Promise<AppProcess> {
  const p = await startApp(name, env, { waitFor: waitForProbe });
  apps.push(p);
  return p;
}

async function read(topic: string) {
  return readTopic(topic, { from: marks.get(topic) });
}

/**
 * The dedup counters of recording files, summed by outcome/reason and by flag (zoom-pipeline status reads the same).
 */
async function fileCounters(): Promise<Record<string, number>> {
  const text = await (await fetch(`${dedup.url}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^zoom_dedup_recording_files_(total|flagged_total)\{([^}]*)\} (\S+)$/gm)) {
    const labels = Object.fromEntries([...m[2]!.matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    const name =
      m[1] === 'total' ? `${labels.outcome}${labels.reason ? `:${labels.reason}` : ''}` : `flag:${labels.flag}`;
    out[name] = (out[name] ?? 0) + Number(m[3]);
  }
  return out;
}

function delta(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  const d: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) if (v - (before[k] ?? 0) !== 0) d[k] = v - (before[k] ?? 0);
  return d;
}

/** Waits until the canonical event of `subject` and `duplicates` duplicates of it are on their topics. */
async function settled(subject: string, duplicates: number) {
  return waitFor(
    `dedup to handle every copy of ${subject}`,
    async () => {
      const events = (await read(TOPICS.events)).filter((r) => decodeCanonicalEvent(r.value).subject === subject);
      if (events.length === 0) return undefined;
      const id = decodeCanonicalEvent(events[0]!.value).id;
      const dups = (await read(TOPICS.duplicates))
        .map((r) => decodeDuplicateDelivery(r.value))
        .filter((d) => d.canonicalId === id);
      return dups.length >= duplicates ? { events, id, dups } : undefined;
    },
    120_000,
    1_000,
  );
}

beforeAll(async () => {
  dl = await startDownloadServer({ throttleBytesPerSec: undefined });
  marks = await markTopics(TOPICS.events, TOPICS.duplicates, TOPICS.files, TOPICS.failed, TOPICS.uploaded);
  const ingress = await start(
    'ingress',
    { KAFKA_BROKERS: e.kafkaBrokers, ZOOM_WEBHOOK_SECRET_TOKEN: SECRET },
    'readyz',
  );
  dedup = await start('dedup', clusterEnv(), 'healthz');
  uploader = await start('uploader', { ...clusterEnv(), ...uploaderS3Env(e, bucket) }, 'healthz');
  sender = new ZoomWebhookSender({ targetUrl: `${ingress.url}/webhooks/zoom`, secret: SECRET });
});

afterAll(async () => {
  await Promise.all(apps.map((a) => a.kill('SIGTERM')));
  await dl?.close();
  s3.destroy();
  await removeBucket(bucket);
});

describe('recording files in every shape, 2 simultaneous copies + 1 retry', () => {
  let id = '';
  let items: FileWorkItem[] = [];
  let before: Record<string, number> = {};

  it('gives one canonical event with the credentials redacted and the Cyrillic topic intact', async () => {
    const mp4 = dl.addFile({ size: 300_000, fileExtension: 'MP4' });
    const m4a = dl.addFile({ size: 120_000, fileExtension: 'M4A' });
    const cc = dl.addFile({ size: 4_000, fileExtension: 'VTT' });
    const timeline = dl.addFile({ size: 2_000, fileExtension: 'JSON' });
    // No Content-Length either: nothing but a clean end says the CHAT file is complete.
    const chat = dl.addFile({ size: 1_500, fileExtension: 'TXT', faults: { chunked: true } });
    const processing = dl.addFile({ size: 80_000, fileExtension: 'MP4' });
    const audio = dl.addFile({ size: 60_000, fileExtension: 'M4A' });
    const all = [mp4, m4a, cc, timeline, chat, processing, audio].map((f) => f.fileId);
    const token0 = dl.issueDownloadToken(all);
    const token1 = dl.issueDownloadToken(all);
    const noIdNoSize = ['id', 'file_size', 'status', 'recording_type'] as const;
    const payload = recordingCompleted({
      downloadBaseUrl: 'http://127.0.0.1:9',
      meetingUuid: zoomMeetingUuid(),
      topic: TOPIC,
      downloadToken: token0,
      files: [
        { id: mp4.fileId, fileType: 'MP4', size: mp4.size, downloadUrl: mp4.downloadUrl },
        { id: m4a.fileId, fileType: 'M4A', size: m4a.size, downloadUrl: m4a.downloadUrl },
        { fileType: 'CC', size: 0, downloadUrl: cc.downloadUrl, omit: noIdNoSize },
        { fileType: 'TIMELINE', size: 0, downloadUrl: timeline.downloadUrl, omit: noIdNoSize },
        { id: chat.fileId, fileType: 'CHAT', size: 0, downloadUrl: chat.downloadUrl, omit: ['file_size'] },
        {
          id: processing.fileId,
          fileType: 'MP4',
          recordingType: 'gallery_view',
          size: processing.size,
          downloadUrl: processing.downloadUrl,
          status: 'processing',
        },
        { id: 'csv-without-url', fileType: 'CSV', size: 10, omit: ['download_url'] },
        { id: mp4.fileId, fileType: 'M4A', size: audio.size, downloadUrl: audio.downloadUrl, participantAudio: true },
      ],
    });
    const uuid = payload.payload.object.uuid;
    before = await fileCounters();
    fixture = { mp4, chat, processing, token0 };

    const copies = await sender.sendCopies(payload, 2, { downloadTokenForCopy: () => token1 });
    expect(copies.every((c) => c.acked)).toBe(true);
    const retry = await sender.send(copies[1]!.body, { timestampSec: Math.floor(Date.now() / 1000) + 300 });
    expect(retry.acked).toBe(true);

    const settledEvents = await settled(uuid, 2);
    const { events } = settledEvents;
    id = settledEvents.id;
    expect(events).toHaveLength(1);
    const eventText = events[0]!.value.toString('utf8');
    expect(eventText).not.toContain(token0);
    expect(eventText).not.toContain(token1);
    const event = decodeCanonicalEvent(eventText);
    expect(event.data.download_token).toBe('[redacted]');
    expect(event.zoomredacted).toBe('download_token,password,recording_play_passcode');
    expect((event.data.payload as { object: { topic: string } }).object.topic).toBe(TOPIC);
    bodies = copies.map((c) => JSON.parse(c.body.toString()) as { download_token: string });
  });

  it(
    'queues every fetchable file once, each URL with its own ' + "delivery's token and the other copy as fallback",
    async () => {
      const { mp4, chat, processing } = fixture!;
      // One work item per fetchable file (7 of 8), each with a pair from one delivery and the other copy's as
      // fallback. Dedup's work items only: the uploader re-appends a file it must wait for (the processing one)
      // with retry headers.
      items = (await read(TOPICS.files))
        .filter((r) => r.headers[RETRY_HEADERS.at] === undefined)
        .map((r) => decodeFileWorkItem(r.value, { alternates: true }))
        .filter((i) => i.canonicalId === id);
      expect(items).toHaveLength(7);
      expect(new Set(items.map((i) => i.fileId)).size).toBe(7);
      for (const item of items) {
        const own = bodies.find((b) => JSON.stringify(b).includes(JSON.stringify(item.downloadUrl)));
        expect(own?.download_token).toBe(item.downloadToken);
        // The other copy's pair rides along only when both copies reached dedup in one fetched batch.
        for (const alternate of item.alternates ?? []) {
          const other = bodies.find((b) => JSON.stringify(b).includes(JSON.stringify(alternate.downloadUrl)));
          expect(other).not.toBe(own);
          expect(other?.download_token).toBe(alternate.downloadToken);
        }
      }
      const byType = (t: string) => items.filter((i) => i.fileType === t);
      expect(byType('CC').map((i) => [i.fileId.startsWith('derived-'), i.sizeUnknown])).toEqual([[true, true]]);
      expect(byType('TIMELINE').map((i) => [i.fileId.startsWith('derived-'), i.sizeUnknown])).toEqual([[true, true]]);
      expect(byType('CHAT').map((i) => [i.fileId, i.sizeUnknown])).toEqual([[chat.fileId, true]]);
      expect(items.filter((i) => i.fileStatus === 'processing').map((i) => i.fileId)).toEqual([processing.fileId]);
      const shared = items.filter((i) => i.zoomFileId === mp4.fileId);
      expect(shared.map((i) => i.fileType).sort()).toEqual(['M4A', 'MP4']);
      expect(shared.every((i) => i.fileId.startsWith(`${mp4.fileId}~`))).toBe(true);
    },
  );

  it('puts the file without download_url on zoom.recording.failed and counts every file', async () => {
    // The file without download_url is on zoom.recording.failed with its reason, without any token.
    const failed = (await read(TOPICS.failed)).filter((r) => r.key === 'csv-without-url');
    expect(failed).toHaveLength(1);
    expect(decodeUploadFailure(failed[0]!.value)).toMatchObject({ canonicalId: id, reason: 'download_url_missing' });
    expect(failed[0]!.value.toString()).not.toContain(fixture!.token0);

    // The counters `zoom-pipeline status` shows moved by exactly these files.
    expect(delta(await fileCounters(), before)).toEqual({
      queued: 7,
      'failed:download_url_missing': 1,
      'flag:size_unknown': 3,
      'flag:not_completed': 1,
      'flag:derived_id': 2,
    });
  });

  it('stores the complete files of known size exactly once, each under its own key', async () => {
    // The complete files of known size are stored exactly once, each under its own key (the shared-id pair apart).
    const complete = items.filter((i) => !i.sizeUnknown && i.fileStatus === undefined);
    expect(complete).toHaveLength(3);
    const results = await waitFor(
      'the complete files on zoom.recording.uploaded',
      async () => {
        const uploaded = (await read(TOPICS.uploaded))
          .map((r) => decodeUploadResult(r.value))
          .filter((u) => u.canonicalId === id);
        return complete.every((i) => uploaded.some((u) => u.fileId === i.fileId)) ? uploaded : undefined;
      },
      180_000,
      1_000,
    );
    const keys = new Set<string>();
    for (const item of complete) {
      const stored = results.filter((u) => u.fileId === item.fileId && !u.alreadyStored);
      expect(stored).toHaveLength(1);
      expect(stored[0]!.key).toBe(objectKey(DEFAULT_OBJECT_KEY_TEMPLATE, item));
      expect(stored[0]!.size).toBe(item.fileSize);
      keys.add(stored[0]!.key);
      expect((await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: stored[0]!.key }))).ContentLength).toBe(
        item.fileSize,
      );
    }
    expect(keys.size).toBe(3);
    expect(dl.stats().authHeaderLeaks).toBe(0);
  });

  it(
    'stores every file of unknown size exactly once under its key, with its ' +
      'size and SHA-256, and never the processing one',
    async () => {
      const unknown = items.filter((i) => i.sizeUnknown);
      expect(unknown).toHaveLength(3);
      const results = await waitFor(
        'the files of unknown size on zoom.recording.uploaded',
        async () => {
          const uploaded = (await read(TOPICS.uploaded))
            .map((r) => decodeUploadResult(r.value))
            .filter((u) => u.canonicalId === id);
          return unknown.every((i) => uploaded.some((u) => u.fileId === i.fileId)) ? uploaded : undefined;
        },
        180_000,
        1_000,
      );
      for (const item of unknown) {
        // The zoom-sim file behind the URL (copies differ only in the last path segment).
        const sim = dl.getFile(decodeURIComponent(new URL(item.downloadUrl).pathname.split('/')[3]!))!;
        const stored = results.filter((u) => u.fileId === item.fileId && !u.alreadyStored);
        expect(stored).toHaveLength(1);
        expect(stored[0]).toMatchObject({
          key: objectKey(DEFAULT_OBJECT_KEY_TEMPLATE, item),
          size: sim.size,
          sha256: sim.sha256,
        });
        expect((await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: stored[0]!.key }))).ContentLength).toBe(
          sim.size,
        );
        // The SHA-256 is on the stored object for an S3 user: the `<key>.sha256` sidecar, sha256sum format.
        const sidecar = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: `${stored[0]!.key}.sha256` }));
        expect(await sidecar.Body?.transformToString('utf8')).toBe(
          `${sim.sha256}  ${stored[0]!.key.split('/').pop()}\n`,
        );
      }
      const failed = (await read(TOPICS.failed))
        .map((r) => decodeUploadFailure(r.value))
        .filter((f) => f.canonicalId === id);
      expect(failed.map((f) => f.reason)).toEqual(['download_url_missing']);
      const processing = items.find((i) => i.fileStatus === 'processing')!;
      const uploaded = (await read(TOPICS.uploaded)).map((r) => decodeUploadResult(r.value));
      expect(uploaded.some((u) => u.fileId === processing.fileId)).toBe(false);
    },
  );

  it('`zoom-pipeline status` on the uploader counts the six stored files and no failure', async () => {
    // The uploader shares its consumer group with earlier runs on these long-lived test services, so it may also
    // finish (and fail) their left-over retries: every failure it counts must be one it published, none of this event.
    await waitFor(
      'status to account for every upload and failure',
      async () => {
        const { stdout } = await promisify(execFile)(process.execPath, [
          path.join(REPO_ROOT, 'dist/apps/cli/src/main.js'),
          'status',
          '--url',
          uploader.url,
          '--json',
        ]);
        const status = JSON.parse(stdout) as { uploads: { uploaded: number; alreadyStored: number; failed: number } };
        const failures = (await read(TOPICS.failed)).map((r) => decodeUploadFailure(r.value));
        const ours = (await read(TOPICS.uploaded))
          .map((r) => decodeUploadResult(r.value))
          .filter((u) => u.canonicalId === id && !u.alreadyStored);
        const leftOver = failures.filter((f) => f.canonicalId !== id).length;
        return ours.length === 6 && status.uploads.uploaded >= 6 && status.uploads.failed === leftOver
          ? true
          : undefined;
      },
      30_000,
      1_000,
    );
  });
});

describe('a copy whose download token Zoom refuses', () => {
  it("is fetched with the other copy's own URL and token (alternates), once", async () => {
    // Zoom's plain 401 this time (not the html page), from a second zoom-sim with per-delivery tokens.
    const zoom = await startDownloadServer({ htmlForBadToken: false });
    try {
      const f = zoom.addFile({ size: 200_000, fileExtension: 'MP4' });
      const expired = zoom.issueDownloadToken([f.fileId]);
      const valid = zoom.issueDownloadToken([f.fileId]);
      zoom.revokeToken(expired);
      const item: FileWorkItem = {
        v: 1,
        fileId: f.fileId,
        canonicalId: `fallback-${f.fileId}`,
        app: 'default',
        accountId: 'acct',
        meetingUuid: zoomMeetingUuid(),
        meetingId: '1',
        topic: TOPIC,
        hostId: 'h',
        meetingStartTime: '2026-12-03T10:00:00Z',
        recordingStart: '2026-12-03T10:00:05Z',
        recordingEnd: '2026-12-03T11:00:05Z',
        fileType: 'MP4',
        fileExtension: 'MP4',
        fileSize: f.size,
        downloadUrl: f.downloadUrl,
        downloadToken: expired,
        tokenReceivedAt: new Date().toISOString(),
        alternates: [
          { downloadUrl: `${f.downloadUrl}-copy2`, downloadToken: valid, receivedAt: new Date().toISOString() },
        ],
      };
      const producer = testKafka().producer({ idempotent: true, maxInFlightRequests: 1 });
      await producer.connect();
      await producer.send({
        topic: TOPICS.files,
        acks: -1,
        messages: [{ key: f.fileId, value: JSON.stringify(item) }],
      });
      await producer.disconnect();

      const stored = await waitFor(
        'the file on zoom.recording.uploaded',
        async () => {
          const uploaded = (await read(TOPICS.uploaded))
            .map((r) => decodeUploadResult(r.value))
            .filter((u) => u.fileId === f.fileId);
          return uploaded.length > 0 ? uploaded : undefined;
        },
        120_000,
        1_000,
      );
      expect(stored).toHaveLength(1);
      expect(stored[0]).toMatchObject({ size: f.size, sha256: f.sha256, alreadyStored: false });
      // One refusal (the revoked token, 401), one redirect (the other copy's token), one download.
      expect(zoom.stats().files[f.fileId]).toMatchObject({ htmlAnswers: 1, redirects: 1, downloadsCompleted: 1 });
      expect(zoom.stats().authHeaderLeaks).toBe(0);
      expect((await read(TOPICS.failed)).filter((r) => r.key === f.fileId)).toEqual([]);
    } finally {
      await zoom.close();
    }
  });
});

describe('webinar and Video SDK events keyed and deduplicated like meeting ones', () => {
  it.each([
    ['webinar.rtms_started', { product: 'webinar' as const }],
    [
      'webinar.rtms_stopped (fields in payload.object)',
      { product: 'webinar' as const, phase: 'stopped' as const, nested: true },
    ],
    ['session.rtms_started', { product: 'session' as const }],
    ['meeting.rtms_started (fields in payload.object)', { product: 'meeting' as const, nested: true }],
  ])('%s: one event keyed by its instance UUID, copies and retries suppressed', async (_name, opts) => {
    const instance = zoomMeetingUuid();
    const body = rtmsEvent({ ...opts, instanceId: instance });
    const copies = await sender.sendCopies(body, 2);
    expect(copies.every((c) => c.acked)).toBe(true);
    expect((await sender.send(copies[0]!.body, { timestampSec: Math.floor(Date.now() / 1000) + 300 })).acked).toBe(
      true,
    );
    const { events } = await settled(instance, 2);
    expect(events).toHaveLength(1);
    expect(events[0]!.key).toBe(instance);
  });

  it('session.recording_completed: its files are queued under the session id', async () => {
    const f = dl.addFile({ size: 50_000, fileExtension: 'MP4' });
    const sessionId = zoomMeetingUuid();
    const body = sessionRecordingCompleted({
      downloadBaseUrl: 'http://127.0.0.1:9',
      sessionId,
      topic: TOPIC,
      downloadToken: f.token,
      files: [{ id: f.fileId, size: f.size, downloadUrl: f.downloadUrl }],
    });
    const copies = await sender.sendCopies(body, 2);
    expect(copies.every((c) => c.acked)).toBe(true);
    const { events, id } = await settled(sessionId, 1);
    expect(events).toHaveLength(1);
    expect(events[0]!.key).toBe(sessionId);
    const items = (await read(TOPICS.files))
      .map((r) => decodeFileWorkItem(r.value))
      .filter((i) => i.canonicalId === id);
    expect(items.map((i) => [i.fileId, i.meetingUuid, i.topic])).toEqual([[f.fileId, sessionId, TOPIC]]);
  });
});
