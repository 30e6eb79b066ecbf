/**
 * Chaos: the whole pipeline as separate processes on real Kafka, Redis and S3 while services are
 * SIGKILLed, the broker and Redis restart, and a proxy injects S3 faults (issue: reliability, SPEC §7).
 * CI runs the short form; `npm run chaos` runs the full form (ZP_CHAOS=full).
 */
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { HeadObjectCommand, ListMultipartUploadsCommand, S3Client } from '@aws-sdk/client-s3';
import { TOPICS, decodeCanonicalEvent, decodeUploadResult } from '@zoom-pipeline/contracts';
import {
  type AppName,
  type AppProcess,
  type FaultProxy,
  REPO_ROOT,
  type TopicMark,
  freePort,
  loadEndpoints,
  markTopics,
  readTopic,
  startApp,
  startFaultProxy,
  uniqueName,
  waitFor,
  removeBucket,
} from '@zoom-pipeline/test-support';
import {
  type DownloadServer,
  type SimFile,
  ZoomWebhookSender,
  meetingStarted,
  recordingCompleted,
  startDownloadServer,
  zoomMeetingUuid,
} from '@zoom-pipeline/zoom-sim';

const FULL = process.env.ZP_CHAOS === 'full';
const SCALE = FULL
  ? { recordings: 250, meetings: 2000, seconds: 150, killRounds: 3 }
  : { recordings: 24, meetings: 120, seconds: 24, killRounds: 1 };
jest.setTimeout((SCALE.seconds + 400) * 1000);

const SECRET = 'chaos-secret';
const e = loadEndpoints();
const bucket = uniqueName('zp-chaos');
const infra = (...args: string[]) =>
  execFileSync('bash', [path.join(REPO_ROOT, 'scripts/infra.sh'), ...args], { stdio: 'pipe' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let dl: DownloadServer;
let proxy: FaultProxy;
const apps = new Map<AppName, AppProcess>();
const envs = new Map<AppName, Record<string, string>>();
const s3 = new S3Client({
  endpoint: e.s3.endpoint,
  region: e.s3.region,
  forcePathStyle: true,
  credentials: { accessKeyId: e.s3.accessKeyId, secretAccessKey: e.s3.secretAccessKey },
});

async function start(name: AppName): Promise<void> {
  apps.set(name, await startApp(name, envs.get(name)!, { waitFor: 'healthz', timeoutMs: 60_000 }));
}
async function kill9(name: AppName): Promise<void> {
  await apps.get(name)?.kill('SIGKILL');
  await sleep(300);
  await start(name);
}

interface Occurrence {
  uuid: string;
  type: string;
  files: SimFile[];
  acked: boolean;
  copies: number;
}

let marks = new Map<string, TopicMark>();

beforeAll(async () => {
  // Read only what this suite produces: the topics are shared with every other suite and benchmark run.
  marks = await markTopics(TOPICS.events, TOPICS.uploaded, TOPICS.failed);
  dl = await startDownloadServer();
  proxy = await startFaultProxy({ target: e.s3.endpoint, error5xx: 0.05, reset: 0.02, latencyMs: 20 });
  const common = {
    KAFKA_BROKERS: e.kafkaBrokers,
    REDIS_URL: e.redisUrl,
    REDIS_KEY_PREFIX: `${bucket}:`,
    LOG_LEVEL: 'warn',
  };
  // A fixed port: Zoom keeps calling the same URL across ingress restarts.
  envs.set('ingress', { ...common, ZOOM_WEBHOOK_SECRET_TOKEN: SECRET, PORT: String(await freePort()) });
  envs.set('dedup', common);
  envs.set('uploader', {
    ...common,
    S3_BUCKET: bucket,
    S3_ENDPOINT: proxy.url,
    S3_REGION: e.s3.region,
    S3_FORCE_PATH_STYLE: 'true',
    S3_CREATE_BUCKET: 'true',
    S3_PART_SIZE: '5MiB',
    AWS_ACCESS_KEY_ID: e.s3.accessKeyId,
    AWS_SECRET_ACCESS_KEY: e.s3.secretAccessKey,
    ZOOM_DOWNLOAD_ALLOWED_HOSTS: '127.0.0.1,127.0.0.2',
    UPLOAD_CONCURRENCY: '4',
    UPLOAD_LEASE_TTL: '10s',
  });
  for (const name of ['ingress', 'dedup', 'uploader'] as const) await start(name);
});

afterAll(async () => {
  await Promise.all([...apps.values()].map((a) => a.kill('SIGTERM')));
  await dl?.close();
  await proxy?.close();
  s3.destroy();
  await removeBucket(bucket);
});

describe('chaos: nothing lost, nothing doubled', () => {
  it(`${FULL ? 'full' : 'short'} run: kills, broker and Redis restarts, S3 faults`, async () => {
    const sender = new ZoomWebhookSender({
      targetUrl: `${apps.get('ingress')!.url}/webhooks/zoom`,
      secret: SECRET,
      retryDelaysMs: [2_000, 8_000, 25_000],
    });
    const occurrences: Occurrence[] = [];
    for (let i = 0; i < SCALE.recordings; i++) {
      const files = Array.from({ length: 1 + (i % 2) }, (_, j) =>
        dl.addFile({ size: 20_000 + ((i * 7919 + j * 104729) % 200_000), fileExtension: 'MP4' }),
      );
      occurrences.push({
        uuid: zoomMeetingUuid(),
        type: 'recording.completed',
        files,
        acked: false,
        copies: Math.random() < 0.2 ? 2 + Math.floor(Math.random() * 3) : 1,
      });
    }
    for (let i = 0; i < SCALE.meetings; i++) {
      occurrences.push({
        uuid: zoomMeetingUuid(),
        type: 'meeting.started',
        files: [],
        acked: false,
        copies: Math.random() < 0.2 ? 2 : 1,
      });
    }
    occurrences.sort(() => Math.random() - 0.5);

    const bodyOf = (o: Occurrence) =>
      o.type === 'recording.completed'
        ? recordingCompleted({
            downloadBaseUrl: dl.url,
            meetingUuid: o.uuid,
            downloadToken: dl.issueDownloadToken(o.files.map((f) => f.fileId)),
            files: o.files.map((f) => ({ id: f.fileId, size: f.size })),
          })
        : meetingStarted({ meetingUuid: o.uuid });

    // Faults, spread over the sending window. The sender keeps Zoom's behaviour: a failed delivery is retried.
    const T = SCALE.seconds * 1000;
    const faults: Array<[number, string, () => Promise<void>]> = [];
    for (let round = 0; round < SCALE.killRounds; round++) {
      const base = (round / SCALE.killRounds) * T;
      const span = T / SCALE.killRounds;
      faults.push([base + 0.1 * span, 'kill ingress', () => kill9('ingress')]);
      faults.push([base + 0.3 * span, 'kill dedup', () => kill9('dedup')]);
      faults.push([base + 0.5 * span, 'kill uploader', () => kill9('uploader')]);
    }
    faults.push([0.65 * T, 'restart kafka', async () => void infra('restart', 'kafka')]);
    faults.push([0.85 * T, 'restart redis', async () => void infra('restart', 'redis')]);
    const t0 = Date.now();
    const faultRun = (async () => {
      for (const [at, what, act] of faults) {
        await sleep(Math.max(0, at - (Date.now() - t0)));
        process.stdout.write(`chaos ${((Date.now() - t0) / 1000).toFixed(1)}s: ${what}\n`);
        await act();
      }
    })();

    const gap = T / occurrences.length;
    const sends = occurrences.map(async (o, i) => {
      await sleep(i * gap);
      const body = bodyOf(o);
      const outcomes =
        o.copies > 1
          ? await sender.sendCopies(body, o.copies, {
              downloadTokenForCopy: () => dl.issueDownloadToken(o.files.map((f) => f.fileId)),
            })
          : [await sender.send(body)];
      o.acked = outcomes.some((x) => x.acked);
    });
    await Promise.all([...sends, faultRun]);

    const acked = occurrences.filter((o) => o.acked);
    const expectedFiles = acked.flatMap((o) => o.files);
    // Everything acknowledged must come out the other end.
    const state = await waitFor(
      'every acknowledged occurrence and file to be processed',
      async () => {
        const events = (await readTopic(TOPICS.events, { from: marks.get(TOPICS.events) })).map((r) =>
          decodeCanonicalEvent(r.value),
        );
        const uploaded = (await readTopic(TOPICS.uploaded, { from: marks.get(TOPICS.uploaded) })).map((r) =>
          decodeUploadResult(r.value),
        );
        const bySubject = new Map<string, number>();
        for (const ev of events)
          bySubject.set(`${ev.subject}|${ev.type}`, (bySubject.get(`${ev.subject}|${ev.type}`) ?? 0) + 1);
        const stored = new Map(uploaded.map((u) => [u.fileId, u]));
        const missingEvents = acked.filter((o) => !bySubject.has(`${o.uuid}|us.zoom.${o.type}`)).length;
        const missingFiles = expectedFiles.filter((f) => !stored.has(f.fileId)).length;
        return missingEvents === 0 && missingFiles === 0 ? { bySubject, stored } : undefined;
      },
      300_000,
      3_000,
    );

    const doubledEvents = acked.filter((o) => (state.bySubject.get(`${o.uuid}|us.zoom.${o.type}`) ?? 0) > 1);
    let wrongBytes = 0;
    for (const f of expectedFiles) {
      const u = state.stored.get(f.fileId)!;
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: u.key }));
      if (head.ContentLength !== f.size || (head.Metadata?.sha256 ?? u.sha256) !== f.sha256) wrongBytes++;
    }
    const openUploads = (await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads?.length ?? 0;
    const ourFileIds = new Set(expectedFiles.map((f) => f.fileId));
    const deadLettered = (await readTopic(TOPICS.failed, { from: marks.get(TOPICS.failed) })).filter(
      (r) => r.key && ourFileIds.has(r.key),
    ).length;
    const deliveries = occurrences.reduce((n, o) => n + o.copies, 0);
    const figures = {
      deliveriesSent: deliveries,
      duplicatesSent: deliveries - occurrences.length,
      httpAttempts: sender.stats().attempts,
      acked: sender.stats().acked,
      occurrencesAcked: acked.length,
      occurrencesNeverAcked: occurrences.length - acked.length,
      faultsInjected: faults.length + proxy.stats().injected5xx + proxy.stats().injectedResets,
      s3Injected5xx: proxy.stats().injected5xx,
      s3InjectedResets: proxy.stats().injectedResets,
      events: acked.length - doubledEvents.length,
      files: expectedFiles.length,
      lost: 0,
      doubled: doubledEvents.length,
      wrongBytes,
      openUploads,
      deadLettered,
    };
    process.stdout.write(`chaos figures: ${JSON.stringify(figures)}\n`);
    if (doubledEvents.length > 0)
      process.stdout.write(`doubled: ${doubledEvents.map((o) => `${o.type} ${o.uuid}`).join(', ')}\n`);
    expect({ doubled: figures.doubled, wrongBytes, openUploads, deadLettered }).toEqual({
      doubled: 0,
      wrongBytes: 0,
      openUploads: 0,
      deadLettered: 0,
    });
    expect(dl.stats().authHeaderLeaks).toBe(0);
  });
});
