/**
 * Uploader against real Kafka, Redis and S3 (S3Proxy), zoom-sim as Zoom; apps as processes
 * (issue: uploader). SPEC invariants 4, 5, 6.
 */
import { readFileSync } from 'node:fs';
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { Kafka, logLevel } from 'kafkajs';
import { objectKey } from '@zoom-pipeline/canonical';
import { DEFAULT_OBJECT_KEY_TEMPLATE } from '@zoom-pipeline/config';
import { type FileWorkItem, TOPICS, type UploadFailure, decodeUploadResult } from '@zoom-pipeline/contracts';
import {
  type AppProcess,
  loadEndpoints,
  readTopic,
  startApp,
  uniqueName,
  waitFor,
  removeBucket,
} from '@zoom-pipeline/test-support';
import { type DownloadServer, type SimFile, startDownloadServer, zoomMeetingUuid } from '@zoom-pipeline/zoom-sim';

jest.setTimeout(600_000);

const e = loadEndpoints();
const bucket = uniqueName('zp-upl');
let dl: DownloadServer;
const apps: AppProcess[] = [];
const s3 = new S3Client({
  endpoint: e.s3.endpoint,
  region: e.s3.region,
  forcePathStyle: true,
  credentials: { accessKeyId: e.s3.accessKeyId, secretAccessKey: e.s3.secretAccessKey },
});
const kafka = new Kafka({ clientId: 'zp-upl-test', brokers: [e.kafkaBrokers], logLevel: logLevel.NOTHING });
const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });

function uploaderEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    KAFKA_BROKERS: e.kafkaBrokers,
    REDIS_URL: e.redisUrl,
    REDIS_KEY_PREFIX: `${bucket}:`,
    S3_BUCKET: bucket,
    S3_ENDPOINT: e.s3.endpoint,
    S3_REGION: e.s3.region,
    S3_FORCE_PATH_STYLE: 'true',
    S3_CREATE_BUCKET: 'true',
    S3_PART_SIZE: '5MiB',
    S3_QUEUE_SIZE: '2',
    AWS_ACCESS_KEY_ID: e.s3.accessKeyId,
    AWS_SECRET_ACCESS_KEY: e.s3.secretAccessKey,
    ZOOM_DOWNLOAD_ALLOWED_HOSTS: '127.0.0.1,127.0.0.2',
    UPLOAD_CONCURRENCY: '2',
    UPLOAD_LEASE_TTL: '10s',
    ...extra,
  };
}

async function startUploader(extra: Record<string, string> = {}): Promise<AppProcess> {
  const p = await startApp('uploader', uploaderEnv(extra), { waitFor: 'healthz' });
  apps.push(p);
  return p;
}

function workItem(f: SimFile, fileType = 'MP4', over: Partial<FileWorkItem> = {}): FileWorkItem {
  const uuid = zoomMeetingUuid();
  return {
    v: 1,
    fileId: f.fileId,
    canonicalId: `${f.fileId}-canonical`,
    app: 'default',
    accountId: 'acct-upl',
    meetingUuid: uuid,
    meetingId: '85746065123',
    topic: 'Uploader e2e',
    hostId: 'host-1',
    meetingStartTime: '2026-11-23T10:00:00Z',
    recordingStart: '2026-11-23T10:00:05Z',
    recordingEnd: '2026-11-23T11:00:05Z',
    fileType,
    fileExtension: 'MP4',
    fileSize: f.size,
    downloadUrl: f.downloadUrl,
    downloadToken: f.token,
    tokenReceivedAt: new Date().toISOString(),
    ...over,
  };
}

async function enqueue(items: FileWorkItem[]): Promise<void> {
  await producer.send({
    topic: TOPICS.files,
    acks: -1,
    messages: items.map((i) => ({ key: i.fileId, value: JSON.stringify(i) })),
  });
}

async function resultFor(fileId: string, topic: string = TOPICS.uploaded) {
  return waitFor(
    `a result for ${fileId} on ${topic}`,
    async () => (await readTopic(topic)).find((r) => r.key === fileId),
    180_000,
    1_000,
  );
}

async function openUploads(): Promise<number> {
  const r = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
  return r.Uploads?.length ?? 0;
}

beforeAll(async () => {
  dl = await startDownloadServer({ throttleBytesPerSec: undefined });
  await producer.connect();
});

afterAll(async () => {
  await Promise.all(apps.map((a) => a.kill('SIGTERM')));
  await producer.disconnect();
  await dl?.close();
  s3.destroy();
  // The 2 GiB object alone would fill the disk after a few dozen runs.
  await removeBucket(bucket);
});

describe('uploader with real S3, Kafka and Redis', () => {
  it('stores a file intact with its metadata and reports it on zoom.recording.uploaded', async () => {
    await startUploader();
    const f = dl.addFile({ size: 12 * 1024 * 1024 + 3, fileExtension: 'MP4' });
    const item = workItem(f);
    await enqueue([item]);
    const rec = await resultFor(f.fileId);
    const result = decodeUploadResult(rec.value);
    expect(result.sha256).toBe(f.sha256);
    expect(result.size).toBe(f.size);
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: result.key }));
    expect(head.ContentLength).toBe(f.size);
    expect(head.Metadata?.['zoom-file-id']).toBe(f.fileId);
    // The SHA-256 for an S3 user: the `<key>.sha256` sidecar (S3_SHA256 default), written without rewriting the object.
    const sidecar = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: `${result.key}.sha256` }));
    expect((await sidecar.Body?.transformToString('utf8'))?.split('  ')[0]).toBe(f.sha256);
    expect(await openUploads()).toBe(0);
    expect(dl.stats().authHeaderLeaks).toBe(0);
  });

  it('two segments of the same file type are two objects', async () => {
    const a = dl.addFile({ size: 100_000, fileExtension: 'MP4' });
    const b = dl.addFile({ size: 120_000, fileExtension: 'MP4' });
    const ia = workItem(a, 'MP4', { recordingStart: '2026-11-23T10:00:05Z' });
    const ib = workItem(b, 'MP4', { meetingUuid: ia.meetingUuid, recordingStart: '2026-11-23T10:30:00Z' });
    await enqueue([ia, ib]);
    const ka = decodeUploadResult((await resultFor(a.fileId)).value).key;
    const kb = decodeUploadResult((await resultFor(b.fileId)).value).key;
    expect(ka).not.toBe(kb);
    expect((await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: ka }))).ContentLength).toBe(100_000);
    expect((await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: kb }))).ContentLength).toBe(120_000);
  });

  it(
    'never stores an HTML answer, a short body or a file from a ' +
      'disallowed host; each is dead-lettered with a reason',
    async () => {
      const html = dl.addFile({ size: 50_000 });
      const short = dl.addFile({ size: 60_000 });
      const items = [
        workItem(html, 'MP4', { downloadToken: 'not-a-valid-token' }),
        workItem(short, 'MP4', { fileSize: 70_000 }),
        workItem(dl.addFile({ size: 10 }), 'MP4', { downloadUrl: 'https://evil.example.com/rec/x' }),
      ];
      await enqueue(items);
      const reasons = await Promise.all(
        items.map(
          async (i) =>
            JSON.parse((await resultFor(i.fileId, TOPICS.failed)).value.toString()) as {
              reason: string;
              message: string;
            },
        ),
      );
      // Zoom answers a bad token with 200 + an HTML page: that is what the uploader reports.
      expect(reasons.map((r) => r.reason)).toEqual([
        'download_html_response',
        'download_size_mismatch',
        'download_forbidden_host',
      ]);
      for (const r of reasons) expect(r.message).not.toContain('not-a-valid-token');
      const uploaded = (await readTopic(TOPICS.uploaded)).map((r) => r.key);
      for (const i of items) expect(uploaded).not.toContain(i.fileId);
      expect(dl.stats().authHeaderLeaks).toBe(0);
    },
  );

  it('after SIGKILL mid-upload the file is stored once and no multipart upload stays open', async () => {
    await Promise.all(apps.splice(0).map((a) => a.kill('SIGTERM')));
    const slowDl = await startDownloadServer({ throttleBytesPerSec: 8 * 1024 * 1024 });
    try {
      const f = slowDl.addFile({ size: 40 * 1024 * 1024, fileExtension: 'MP4' });
      const first = await startUploader();
      await enqueue([workItem(f)]);
      await waitFor(
        'the upload to be under way',
        async () => slowDl.stats().bytesServed > 12 * 1024 * 1024,
        60_000,
        100,
      );
      await first.kill('SIGKILL');
      // Two uploaders now share the work: still one upload of the file.
      await Promise.all([startUploader(), startUploader()]);
      const result = decodeUploadResult((await resultFor(f.fileId)).value);
      expect(result.sha256).toBe(f.sha256);
      const uploadedRecords = (await readTopic(TOPICS.uploaded)).filter(
        (r) => r.key === f.fileId && !decodeUploadResult(r.value).alreadyStored,
      );
      expect(uploadedRecords).toHaveLength(1);
      // The killed process's multipart upload was aborted by nobody: it is the uploader's job to leave none.
      await waitFor('no open multipart uploads', async () => (await openUploads()) === 0, 30_000, 1_000);
    } finally {
      await slowDl.close();
    }
  });

  it('falls back to Server-to-Server OAuth when the webhook token is rejected', async () => {
    await Promise.all(apps.splice(0).map((a) => a.kill('SIGTERM')));
    dl.setS2SCredentials({ accountId: 'acct-s2s', clientId: 'client-s2s', clientSecret: 'secret-s2s' });
    await startUploader({
      ZOOM_ACCOUNT_ID: 'acct-s2s',
      ZOOM_CLIENT_ID: 'client-s2s',
      ZOOM_CLIENT_SECRET: 'secret-s2s',
      ZOOM_OAUTH_URL: dl.tokenUrl,
    });
    const f = dl.addFile({ size: 300_000, fileExtension: 'MP4' });
    dl.revokeToken(f.token); // arrived late: the webhook's token no longer works (docs/USER-REPORTS.md #11)
    const tokenRequests = dl.stats().tokenRequests;
    await enqueue([workItem(f)]);
    const result = decodeUploadResult((await resultFor(f.fileId)).value);
    expect(result.sha256).toBe(f.sha256);
    expect(dl.stats().tokenRequests).toBe(tokenRequests + 1);
    expect(dl.stats().authHeaderLeaks).toBe(0);
  });

  it("stores a 2 GiB file intact with the uploader's memory bounded by its part size, not the file size", async () => {
    const uploader = apps[apps.length - 1];
    const before = peakRssMiB(uploader.child.pid!);
    const f = dl.addFile({ size: 2 * 1024 ** 3, fileExtension: 'MP4' });
    await enqueue([workItem(f)]);
    const result = decodeUploadResult((await resultFor(f.fileId)).value);
    const peak = peakRssMiB(uploader.child.pid!);
    expect(result.size).toBe(f.size);
    expect(result.sha256).toBe(f.sha256);
    process.stdout.write(
      `uploader 2 GiB to S3 (5 MiB parts x 2 in flight): peak RSS ${peak.toFixed(0)} MiB (before ` +
        `${before.toFixed(0)} MiB), ${(result.durationMs / 1000).toFixed(1)} s\n`,
    );
    // Configuration bound: part size x (queue + 1) per file, plus the process baseline; 2 GiB would be 2048 MiB.
    expect(peak).toBeLessThan(before + 200);
  });
});

/**
 * Issue "No poison pill", uploader half: every record ends stored, dead-lettered with a reason, or retried later
 * off its partition; the normal file behind a bad one is stored. No timed assertions: each test waits for the
 * normal record's result and then checks what happened to the bad one.
 */
describe('no poison pill: per-record error policy', () => {
  const retryEnv = { UPLOAD_RETRY_MAX_DELAY: '1s', UPLOAD_RETRY_BUDGET: '3m' };

  async function freshUploader(extra: Record<string, string> = {}): Promise<AppProcess> {
    await Promise.all(apps.splice(0).map((a) => a.kill('SIGTERM')));
    return startUploader({ ...retryEnv, ...extra });
  }

  /** One partition for all, in this order: the bad record sits in front of the normal one. */
  async function enqueueOn(partition: number, items: FileWorkItem[]): Promise<void> {
    await producer.send({
      topic: TOPICS.files,
      acks: -1,
      messages: items.map((i) => ({ key: i.fileId, value: JSON.stringify(i), partition })),
    });
  }

  async function failureOf(fileId: string): Promise<UploadFailure> {
    return JSON.parse((await resultFor(fileId, TOPICS.failed)).value.toString()) as UploadFailure;
  }

  async function recordsFor(topic: string, fileId: string) {
    return (await readTopic(topic)).filter((r) => r.key === fileId);
  }

  it(
    'a size mismatch that shows only mid-body (chunked answers) is ' +
      'dead-lettered once, and the file behind it is stored',
    async () => {
      await freshUploader();
      const short = dl.addFile({ size: 60_000, faults: { chunked: true } }); // serves fewer bytes than file_size
      const long = dl.addFile({ size: 60_000, faults: { chunked: true } }); // serves more bytes than file_size
      const normal = dl.addFile({ size: 80_000 });
      await enqueueOn(3, [
        workItem(short, 'MP4', { fileSize: 70_000 }),
        workItem(long, 'MP4', { fileSize: 50_000 }),
        workItem(normal),
      ]);

      expect(decodeUploadResult((await resultFor(normal.fileId)).value).sha256).toBe(normal.sha256);
      expect((await failureOf(short.fileId)).reason).toBe('download_size_mismatch');
      expect((await failureOf(long.fileId)).reason).toBe('download_size_mismatch');
      // Dead-lettered once, not redelivered: one failure record each, and no stream of downloads.
      expect(await recordsFor(TOPICS.failed, short.fileId)).toHaveLength(1);
      expect(await recordsFor(TOPICS.failed, long.fileId)).toHaveLength(1);
      // The body, and one resume that finds its end.
      expect(dl.stats().files[short.fileId]?.downloadsStarted).toBeLessThanOrEqual(2);
      expect(dl.stats().files[long.fileId]?.downloadsStarted).toBe(1);
    },
  );

  it('a non-ASCII file id is stored (its metadata encoded), and so is the file behind it', async () => {
    await freshUploader();
    const odd = dl.addFile({ fileId: `réunion-файл-会議-${uniqueName('x')}`, size: 30_000 });
    const normal = dl.addFile({ size: 20_000 });
    await enqueueOn(4, [workItem(odd), workItem(normal)]);

    expect(decodeUploadResult((await resultFor(normal.fileId)).value).size).toBe(20_000);
    const stored = decodeUploadResult((await resultFor(odd.fileId)).value);
    expect(stored.sha256).toBe(odd.sha256);
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: stored.key }));
    expect(head.Metadata?.['zoom-file-id']).toBe(`=?UTF-8?B?${Buffer.from(odd.fileId).toString('base64')}?=`);
  });

  it(
    'file ids that sanitise alike (u/a, u?a) get two objects, and ' +
      "another file's object at a key is never overwritten",
    async () => {
      await freshUploader();
      const tag = uniqueName('u');
      const a = dl.addFile({ fileId: `${tag}/a`, size: 11_000 });
      const b = dl.addFile({ fileId: `${tag}?a`, size: 12_000 });
      const ia = workItem(a);
      const ib = workItem(b, 'MP4', { meetingUuid: ia.meetingUuid });
      await enqueueOn(5, [ia, ib]);
      const ka = decodeUploadResult((await resultFor(a.fileId)).value).key;
      const kb = decodeUploadResult((await resultFor(b.fileId)).value).key;
      expect(ka).not.toBe(kb);
      expect((await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: ka }))).ContentLength).toBe(11_000);
      expect((await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: kb }))).ContentLength).toBe(12_000);

      // An object already at the key with another file id (written by anything else): dead-letter, keep it.
      const c = dl.addFile({ size: 13_000 });
      const ic = workItem(c);
      const key = objectKey(DEFAULT_OBJECT_KEY_TEMPLATE, ic);
      await s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: 'someone else',
          Metadata: { 'zoom-file-id': 'another-file' },
        }),
      );
      await enqueueOn(5, [ic]);
      expect((await failureOf(c.fileId)).reason).toBe('object_key_collision');
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      expect([head.ContentLength, head.Metadata?.['zoom-file-id']]).toEqual([12, 'another-file']);
    },
  );

  it('a 429/503 storm with Retry-After ends with every file stored and none dead-lettered', async () => {
    await freshUploader();
    // Seven refusals per file: more than the downloader's own 5 attempts, so only the delayed retries get through.
    const files = [0, 1, 2, 3].map(() =>
      dl.addFile({ size: 50_000, faults: { failFirst: { count: 7, statuses: [429, 503], retryAfterSec: 1 } } }),
    );
    await enqueue(files.map((f) => workItem(f)));

    for (const f of files) expect(decodeUploadResult((await resultFor(f.fileId)).value).sha256).toBe(f.sha256);
    for (const f of files) {
      expect(dl.stats().files[f.fileId]?.faultAnswers).toBe(7);
      expect(await recordsFor(TOPICS.failed, f.fileId)).toHaveLength(0);
    }
  });

  it(
    'a file that never recovers is dead-lettered as retry_budget_exhausted once ' +
      'its budget is spent; the file behind it is stored',
    async () => {
      await freshUploader({ UPLOAD_RETRY_BUDGET: '4s' });
      const down = dl.addFile({
        size: 10_000,
        faults: { failFirst: { count: Infinity, status: 503, retryAfterSec: 1 } },
      });
      const normal = dl.addFile({ size: 10_000 });
      await enqueueOn(6, [workItem(down), workItem(normal)]);

      expect(decodeUploadResult((await resultFor(normal.fileId)).value).sha256).toBe(normal.sha256);
      const failure = await failureOf(down.fileId);
      expect(failure.reason).toBe('retry_budget_exhausted');
      expect(failure.message).toContain('HTTP 503');
      expect(failure.attempts).toBeGreaterThan(1);
      expect(await recordsFor(TOPICS.failed, down.fileId)).toHaveLength(1);
    },
  );

  it('never runs two transfers of one file at once, even when one batch holds the file twice', async () => {
    await freshUploader();
    const slowDl = await startDownloadServer({ throttleBytesPerSec: 4 * 1024 * 1024 });
    try {
      const f = slowDl.addFile({ size: 8 * 1024 * 1024 });
      const item = workItem(f);
      await enqueueOn(7, [item, item]);
      await waitFor(
        'two results for the file',
        async () => (await recordsFor(TOPICS.uploaded, f.fileId)).length >= 2,
        180_000,
        1_000,
      );
      const results = (await recordsFor(TOPICS.uploaded, f.fileId)).map((r) => decodeUploadResult(r.value));
      expect(results.map((r) => r.alreadyStored).sort()).toEqual([false, true]);
      expect(slowDl.stats().files[f.fileId]?.downloadsStarted).toBe(1);
      expect(await openUploads()).toBe(0);
    } finally {
      await slowDl.close();
    }
  });

  it('on SIGTERM, queued transfers never start, and a restart stores every file', async () => {
    const first = await freshUploader({ UPLOAD_CONCURRENCY: '1' });
    const slowDl = await startDownloadServer({ throttleBytesPerSec: 2 * 1024 * 1024 });
    try {
      const files = [0, 1, 2, 3, 4].map(() => slowDl.addFile({ size: 6 * 1024 * 1024 }));
      // Different partitions: their batches run side by side, all but one waiting for the single slot.
      await Promise.all(files.map((f, i) => enqueueOn(i, [workItem(f)])));
      await waitFor('the first transfer to be under way', async () => slowDl.stats().bytesServed > 0, 60_000, 50);
      await first.kill('SIGTERM');
      expect(slowDl.stats().downloadsStarted).toBe(1);
      await startUploader(retryEnv);
      for (const f of files) expect(decodeUploadResult((await resultFor(f.fileId)).value).sha256).toBe(f.sha256);
    } finally {
      await slowDl.close();
    }
  });
});

function peakRssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}
