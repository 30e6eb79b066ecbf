/**
 * A rolling restart as Kubernetes does it (issue: Kubernetes): each app gets SIGTERM while Zoom keeps
 * sending, and a new process takes over. Graceful shutdown must lose nothing and double nothing:
 * the ingress drains in-flight requests, dedup and uploader commit what is done and hand back the rest.
 */
import { TOPICS, decodeCanonicalEvent, decodeUploadResult } from '@zoom-pipeline/contracts';
import {
  type AppName,
  type AppProcess,
  type TopicMark,
  freePort,
  loadEndpoints,
  markTopics,
  readTopic,
  startApp,
  uniqueName,
  waitFor,
  removeBucket,
} from '@zoom-pipeline/test-support';
import {
  type DownloadServer,
  ZoomWebhookSender,
  meetingStarted,
  recordingCompleted,
  startDownloadServer,
  zoomMeetingUuid,
} from '@zoom-pipeline/zoom-sim';

jest.setTimeout(400_000);

const SECRET = 'rolling-secret';
const e = loadEndpoints();
const bucket = uniqueName('zp-roll');
let dl: DownloadServer;
const apps = new Map<AppName, AppProcess>();
const envs = new Map<AppName, Record<string, string>>();

async function start(name: AppName): Promise<void> {
  apps.set(name, await startApp(name, envs.get(name)!, { waitFor: 'healthz', timeoutMs: 60_000 }));
}

let marks = new Map<string, TopicMark>();

beforeAll(async () => {
  // Read only what this suite produces: the topics are shared with every other suite and benchmark run.
  marks = await markTopics(TOPICS.events, TOPICS.uploaded);
  dl = await startDownloadServer({ throttleBytesPerSec: 4 * 1024 * 1024 });
  const common = {
    KAFKA_BROKERS: e.kafkaBrokers,
    REDIS_URL: e.redisUrl,
    REDIS_KEY_PREFIX: `${bucket}:`,
    LOG_LEVEL: 'warn',
  };
  envs.set('ingress', {
    ...common,
    ZOOM_WEBHOOK_SECRET_TOKEN: SECRET,
    PORT: String(await freePort()),
    SHUTDOWN_DELAY: '1s',
  });
  envs.set('dedup', common);
  envs.set('uploader', {
    ...common,
    S3_BUCKET: bucket,
    S3_ENDPOINT: e.s3.endpoint,
    S3_REGION: e.s3.region,
    S3_FORCE_PATH_STYLE: 'true',
    S3_CREATE_BUCKET: 'true',
    S3_PART_SIZE: '5MiB',
    AWS_ACCESS_KEY_ID: e.s3.accessKeyId,
    AWS_SECRET_ACCESS_KEY: e.s3.secretAccessKey,
    ZOOM_DOWNLOAD_ALLOWED_HOSTS: '127.0.0.1,127.0.0.2',
    UPLOAD_CONCURRENCY: '3',
  });
  for (const name of ['ingress', 'dedup', 'uploader'] as const) await start(name);
});

afterAll(async () => {
  await Promise.all([...apps.values()].map((a) => a.kill('SIGTERM')));
  await dl?.close();
  await removeBucket(bucket);
});

it(
  'SIGTERM and restart of every app while deliveries and ' + 'uploads are in flight loses and doubles nothing',
  async () => {
    const sender = new ZoomWebhookSender({
      targetUrl: `${apps.get('ingress')!.url}/webhooks/zoom`,
      secret: SECRET,
      retryDelaysMs: [2_000, 8_000, 25_000],
    });
    const occurrences = Array.from({ length: 90 }, (_, i) => {
      const files = i % 3 === 0 ? [dl.addFile({ size: 1_500_000 + i * 1000, fileExtension: 'MP4' })] : [];
      return {
        uuid: zoomMeetingUuid(),
        files,
        type: files.length ? 'recording.completed' : 'meeting.started',
        acked: false,
      };
    });
    const sending = (async () => {
      for (const o of occurrences) {
        const body = o.files.length
          ? recordingCompleted({
              downloadBaseUrl: dl.url,
              meetingUuid: o.uuid,
              downloadToken: dl.issueDownloadToken(o.files.map((f) => f.fileId)),
              files: o.files.map((f) => ({ id: f.fileId, size: f.size })),
            })
          : meetingStarted({ meetingUuid: o.uuid });
        void sender
          .sendCopies(body, 2, { downloadTokenForCopy: () => dl.issueDownloadToken(o.files.map((f) => f.fileId)) })
          .then((out) => (o.acked = out.some((x) => x.acked)));
        await new Promise((r) => setTimeout(r, 120));
      }
    })();
    // Roll each deployment once, one after the other, while the traffic above is flowing.
    for (const name of ['ingress', 'dedup', 'uploader'] as const) {
      await new Promise((r) => setTimeout(r, 2_500));
      const old = apps.get(name)!;
      const exited = old.kill('SIGTERM');
      if (name !== 'ingress') await start(name); // surge: the new pod starts while the old one drains
      const code = await exited;
      expect(code).toBe(0); // a clean, graceful exit, not a crash
      if (name === 'ingress') await start(name);
    }
    await sending;
    await waitFor('all deliveries answered', async () => occurrences.every((o) => o.acked), 60_000, 500);

    const expectedFiles = occurrences.flatMap((o) => o.files);
    const result = await waitFor(
      'every occurrence and file processed',
      async () => {
        const events = (await readTopic(TOPICS.events, { from: marks.get(TOPICS.events) })).map((r) =>
          decodeCanonicalEvent(r.value),
        );
        const uploaded = (await readTopic(TOPICS.uploaded, { from: marks.get(TOPICS.uploaded) })).map((r) =>
          decodeUploadResult(r.value),
        );
        const count = new Map<string, number>();
        for (const ev of events) count.set(ev.subject, (count.get(ev.subject) ?? 0) + 1);
        const done =
          occurrences.every((o) => count.has(o.uuid)) &&
          expectedFiles.every((f) => uploaded.some((u) => u.fileId === f.fileId));
        return done ? { count, uploaded } : undefined;
      },
      240_000,
      2_000,
    );
    const doubled = occurrences.filter((o) => (result.count.get(o.uuid) ?? 0) > 1).length;
    const freshUploads = new Map<string, number>();
    for (const u of result.uploaded)
      if (!u.alreadyStored) freshUploads.set(u.fileId, (freshUploads.get(u.fileId) ?? 0) + 1);
    const uploadedTwice = expectedFiles.filter((f) => (freshUploads.get(f.fileId) ?? 0) > 1).length;
    const wrong = expectedFiles.filter(
      (f) => result.uploaded.find((u) => u.fileId === f.fileId)!.sha256 !== f.sha256,
    ).length;
    expect({ doubled, uploadedTwice, wrong }).toEqual({ doubled: 0, uploadedTwice: 0, wrong: 0 });
  },
);
