/**
 * Reconcile and redrive against real Kafka, Redis and S3, zoom-sim playing Zoom (webhooks, downloads, S2S OAuth,
 * the REST API). The standalone app runs on the real adapters here (KAFKA_BROKERS, REDIS_URL, S3_BUCKET set), and
 * a second reconciler runs as apps/reconciler, the cluster deployment.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { TOPICS, decodeUploadFailure, decodeUploadResult } from '@zoom-pipeline/contracts';
import {
  type AppProcess,
  REPO_ROOT,
  type TopicMark,
  loadEndpoints,
  readTopic,
  removeBucket,
  startApp,
  topicMark,
  uniqueName,
  uploaderS3Env,
  waitFor,
} from '@zoom-pipeline/test-support';
import {
  type DownloadServer,
  type SimRecording,
  type ZoomApiServer,
  ZoomWebhookSender,
  startDownloadServer,
  startZoomApiServer,
} from '@zoom-pipeline/zoom-sim';

jest.setTimeout(300_000);

const e = loadEndpoints();
const SECRET = 'reconcile-e2e-secret';
const creds = { accountId: 'acct-rec', clientId: 'client-rec', clientSecret: 'secret-rec-s3cr3t' };
const bucket = uniqueName('zp-rec');
const s3 = new S3Client({
  endpoint: e.s3.endpoint,
  region: e.s3.region,
  forcePathStyle: true,
  credentials: { accessKeyId: e.s3.accessKeyId, secretAccessKey: e.s3.secretAccessKey },
});
const dataDirs: string[] = [];
const apps: AppProcess[] = [];
let dl: DownloadServer;
let api: ZoomApiServer;
let app: AppProcess;
let uploadedMark: TopicMark;
let failedMark: TopicMark;
const today = new Date().toISOString().slice(0, 10);
const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);

function env(withCredentials: boolean): Record<string, string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zp-rec-'));
  dataDirs.push(dir);
  return {
    ZOOM_WEBHOOK_SECRET_TOKEN: SECRET,
    DATA_DIR: dir,
    KAFKA_BROKERS: e.kafkaBrokers,
    REDIS_URL: e.redisUrl,
    REDIS_KEY_PREFIX: `${bucket}:`,
    ...uploaderS3Env(e, bucket),
    UPLOAD_CONCURRENCY: '4',
    UPLOAD_LEASE_TTL: '10s',
    ZOOM_OAUTH_URL: dl.tokenUrl,
    ZOOM_API_URL: api.url,
    ZOOM_API_RATE: '50',
    RECONCILE_INTERVAL: 'off',
    // With credentials, also move each verified upload to Zoom's trash (ZOOM_AFTER_UPLOAD=trash).
    ...(withCredentials
      ? {
          ZOOM_ACCOUNT_ID: creds.accountId,
          ZOOM_CLIENT_ID: creds.clientId,
          ZOOM_CLIENT_SECRET: creds.clientSecret,
          ZOOM_AFTER_UPLOAD: 'trash',
        }
      : {}),
  };
}

async function start(name: 'standalone' | 'reconciler', withCredentials: boolean): Promise<AppProcess> {
  const p = await startApp(name, env(withCredentials), { waitFor: 'readyz', timeoutMs: 60_000 });
  apps.push(p);
  return p;
}

async function post(
  target: AppProcess,
  pathname: string,
  body: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${target.url}${pathname}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

/** The built CLI (`npm run build`), as a user runs it. */
function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [path.join(REPO_ROOT, 'dist/apps/cli/src/main.js'), ...args],
      { cwd: REPO_ROOT },
      (err, stdout, stderr) => {
        resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr });
      },
    );
  });
}

function fileIdsOf(recs: SimRecording[]): string[] {
  return recs.flatMap((r) => r.files.map((f) => f.fileId));
}

/** Upload results for these files so far (several per file when a later copy found it already stored). */
async function uploadedFor(fileIds: string[]) {
  const wanted = new Set(fileIds);
  return (await readTopic(TOPICS.uploaded, { from: uploadedMark }))
    .filter((r) => r.key !== null && wanted.has(r.key))
    .map((r) => decodeUploadResult(r.value));
}

async function allStored(fileIds: string[]) {
  return waitFor(
    `${fileIds.length} files on zoom.recording.uploaded`,
    async () => {
      const results = await uploadedFor(fileIds);
      return new Set(results.map((r) => r.fileId)).size === fileIds.length ? results : undefined;
    },
    120_000,
    1_000,
  );
}

async function objectKeys(): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    for (const o of page.Contents ?? []) keys.push(o.Key!);
    token = page.NextContinuationToken;
  } while (token);
  return keys;
}

function expectOneCopyAndOneDownloadEach(fileIds: string[], keys: string[]): void {
  const stats = dl.stats().files;
  for (const id of fileIds) {
    // The recording itself; its `<key>.sha256` sidecar (S3_SHA256=sidecar) is not a copy.
    expect(keys.filter((k) => k.includes(id) && !k.endsWith('.sha256'))).toHaveLength(1);
    expect(stats[id]?.downloadsCompleted).toBe(1);
  }
}

function lostRecordings(n: number, hostId: string): SimRecording[] {
  return Array.from({ length: n }, () =>
    api.addRecording({ hostId, files: [{ size: 40_000 }, { size: 3_000, fileType: 'CHAT' }] }),
  );
}

beforeAll(async () => {
  dl = await startDownloadServer();
  dl.setS2SCredentials(creds);
  api = await startZoomApiServer({ downloads: dl });
  [uploadedMark, failedMark] = await Promise.all([topicMark(TOPICS.uploaded), topicMark(TOPICS.failed)]);
});

afterAll(async () => {
  await Promise.all(apps.map((a) => a.kill('SIGTERM')));
  await api?.close();
  await dl?.close();
  s3.destroy();
  await removeBucket(bucket);
  for (const d of dataDirs) fs.rmSync(d, { recursive: true, force: true });
});

describe('reconcile and redrive', () => {
  it('redrive after fixing a missing credential stores the dead-lettered files', async () => {
    // No S2S credentials and a webhook without a download token: nothing can fetch the files.
    app = await start('standalone', false);
    const [rec] = lostRecordings(1, 'host-redrive');
    const body = structuredClone(rec!.webhook) as unknown as Record<string, unknown>;
    delete body.download_token;
    const sender = new ZoomWebhookSender({ targetUrl: `${app.url}/webhooks/zoom`, secret: SECRET });
    expect((await sender.send(body as never)).acked).toBe(true);
    const ids = fileIdsOf([rec!]);
    const failures = await waitFor(
      'both files dead-lettered',
      async () => {
        const f = (await readTopic(TOPICS.failed, { from: failedMark }))
          .filter((r) => r.key !== null && ids.includes(r.key))
          .map((r) => decodeUploadFailure(r.value));
        return new Set(f.map((x) => x.fileId)).size === 2 ? f : undefined;
      },
      60_000,
      1_000,
    );
    const reason = failures[0]!.reason;
    // Failed uploads are never trashed (this app has no API access, and nothing reached zoom.recording.uploaded).
    expect(api.stats().trashed).toEqual([]);
    expect(failures.every((f) => f.reason === reason)).toBe(true);

    // The operator adds the credentials and redrives that meeting's failures.
    await app.kill('SIGTERM');
    app = await start('standalone', true);
    const dry = await post(app, '/reconcile/redrives', { reason, meetingUuid: rec!.uuid, dryRun: true });
    expect(dry.status).toBe(200);
    expect(dry.json).toMatchObject({ matched: 2, queued: 0, dryRun: true });
    const other = await post(app, '/reconcile/redrives', { reason: 'download_size_mismatch', meetingUuid: rec!.uuid });
    expect(other.json).toMatchObject({ matched: 0, queued: 0 });
    // The operator's command: `zoom-pipeline redrive --reason R --meeting UUID`.
    const done = await cli(['redrive', '--reason', reason, '--meeting', rec!.uuid, '--url', app.url, '--json']);
    expect(done.code).toBe(0);
    expect(JSON.parse(done.stdout)).toMatchObject({ matched: 2, queued: 2, byReason: { [reason]: 2 } });
    await allStored(ids);
    expectOneCopyAndOneDownloadEach(ids, await objectKeys());
  });

  it('closes the gap of lost webhooks: one run stores every file once, a second run queues nothing', async () => {
    const recs = lostRecordings(50, 'host-gap');
    const sender = new ZoomWebhookSender({ targetUrl: `${app.url}/webhooks/zoom`, secret: SECRET });
    sender.loseDeliveries(true);
    const outcomes = await Promise.all(recs.map((r) => sender.send(r.webhook)));
    expect(outcomes.every((o) => o.gaveUp && !o.acked)).toBe(true);
    const ids = fileIdsOf(recs);

    const first = await post(app, '/reconcile/runs?wait=true', { users: ['host-gap'], from: yesterday, to: today });
    expect(first.status).toBe(200);
    expect(first.json).toMatchObject({
      status: 'ok',
      meetingsListed: 50,
      filesFound: 100,
      alreadyStored: 0,
      queued: 100,
      meetingsRepeated: 0,
    });
    await allStored(ids);
    expectOneCopyAndOneDownloadEach(ids, await objectKeys());
    // Trash mode: every stored file is moved to Zoom's trash once, after its upload was verified.
    const trashed = await waitFor(
      'the 100 files in the Zoom trash',
      async () => {
        const t = api.stats().trashed.filter((x) => ids.includes(x.split('/').pop()!));
        return t.length >= 100 ? t : undefined;
      },
      60_000,
      500,
    );
    expect(new Set(trashed).size).toBe(100);
    expect(trashed).toHaveLength(100);

    // Once the ledger has caught up with zoom.recording.uploaded, a run finds everything stored.
    const second = await waitFor(
      'a run that finds all 100 stored',
      async () => {
        const run = await post(app, '/reconcile/runs?wait=true', { users: ['host-gap'], from: yesterday, to: today });
        return run.json.alreadyStored === 100 ? run : undefined;
      },
      60_000,
      1_000,
    );
    expect(second.json).toMatchObject({ status: 'ok', queued: 0, missing: 0 });
    const last = await fetch(`${app.url}/reconcile/runs/last`);
    expect(await last.json()).toMatchObject({ runId: second.json.runId, alreadyStored: 100 });
  });

  it('a webhook and a reconcile racing on one recording store one copy with one download', async () => {
    const [rec] = lostRecordings(1, 'host-race');
    const sender = new ZoomWebhookSender({ targetUrl: `${app.url}/webhooks/zoom`, secret: SECRET });
    const [delivered, run] = await Promise.all([
      sender.send(rec!.webhook),
      post(app, '/reconcile/runs?wait=true', { users: ['host-race'], from: yesterday, to: today }),
    ]);
    expect(delivered.acked).toBe(true);
    expect(run.json).toMatchObject({ status: 'ok', filesFound: 2 });
    const ids = fileIdsOf([rec!]);
    await allStored(ids);
    // Every work item settles with a result: the webhook's two, plus the reconcile's (if it queued any), which find
    // the object already there (or store it, and then the webhook's find it).
    const expected = 2 + (run.json.queued as number);
    const results = await waitFor(
      'every work item settled',
      async () => {
        const r = await uploadedFor(ids);
        return r.length >= expected ? r : undefined;
      },
      60_000,
      1_000,
    );
    expect(results).toHaveLength(expected);
    expect(results.filter((r) => !r.alreadyStored)).toHaveLength(2);
    for (const id of ids) expect(new Set(results.filter((r) => r.fileId === id).map((r) => r.key)).size).toBe(1);
    expectOneCopyAndOneDownloadEach(ids, await objectKeys());
  });

  it('two reconcilers started at once do the work once', async () => {
    const other = await start('reconciler', true);
    const recs = lostRecordings(10, 'host-two');
    const ids = fileIdsOf(recs);
    const runs = await Promise.all(
      [app, other].map((a) =>
        post(a, '/reconcile/runs?wait=true', { users: ['host-two'], from: yesterday, to: today }),
      ),
    );
    const ran = runs.filter((r) => r.status === 200);
    const busy = runs.filter((r) => r.status === 409);
    expect(ran.length + busy.length).toBe(2);
    for (const b of busy) expect(b.json.error).toBe('reconcile_busy');
    expect(ran.reduce((sum, r) => sum + (r.json.queued as number), 0)).toBe(20);
    await allStored(ids);
    expectOneCopyAndOneDownloadEach(ids, await objectKeys());
    // The CLI against the cluster's reconciler: a dry-run backfill lists the same files, status shows the last run.
    const backfill = await cli([
      'backfill',
      '--from',
      yesterday,
      '--to',
      today,
      '--user',
      'host-two',
      '--dry-run',
      '--url',
      other.url,
      '--poll-ms',
      '50',
    ]);
    expect(backfill.code).toBe(0);
    expect(backfill.stdout).toMatch(/files found\s+20\b/);
    const status = await cli(['status', '--url', other.url]);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/reconcile\s+last run \S+: 20 files found/);
  });
});
