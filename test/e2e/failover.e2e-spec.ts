/**
 * Failover, not only outage (issue "No poison pill"): the pipeline as processes on a 3-broker KRaft cluster
 * (RF 3, min.insync.replicas 2, scripts/infra-cluster.sh) while, under a steady stream of signed deliveries,
 * the broker leading most `zoom.webhooks.raw` partitions is SIGKILLed and restarted, then the transaction
 * coordinator of dedup's transactional id. Nothing acknowledged may be lost, no canonical event or upload doubled.
 *
 * Runs only with ZP_FAILOVER=1: `npm run chaos:failover` starts the cluster (and infra.sh's Redis/S3), points
 * ZP_ENDPOINTS_FILE at it, runs this file and stops the cluster. Not part of `npm test`: three more JVMs on the
 * 2-core machine (see scripts/infra/README.md, "3-broker cluster").
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { Connection, listTransactionsV1 } from '@platformatic/kafka';
import { TOPICS, decodeCanonicalEvent, decodeRawDelivery, decodeUploadResult } from '@zoom-pipeline/contracts';
import {
  type AppName,
  type AppProcess,
  REPO_ROOT,
  type TopicMark,
  freePort,
  loadEndpoints,
  markTopics,
  readTopic,
  removeBucket,
  startApp,
  uniqueName,
  waitFor,
  withAdmin,
  uploaderS3Env,
} from '@zoom-pipeline/test-support';
import {
  type DeliveryOutcome,
  type DownloadServer,
  type SimFile,
  ZoomWebhookSender,
  meetingStarted,
  recordingCompleted,
  startDownloadServer,
  zoomMeetingUuid,
} from '@zoom-pipeline/zoom-sim';

const FAILOVER = process.env.ZP_FAILOVER === '1';
/** Load: one occurrence every GAP_MS until the faults are over and at least MIN_SECONDS passed (bounded by MAX). */
const GAP_MS = 125;
const MIN_SECONDS = 60;
const MAX_OCCURRENCES = 3_000;
/** How long a killed broker stays down (longer than replica.lag.time.max.ms = 10 s: the ISR shrinks). */
const DOWN_MS = 15_000;
jest.setTimeout(900_000);

const SECRET = 'failover-secret';
const DEDUP_GROUP = 'zoom-pipeline-dedup';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const run = promisify(execFile);
const cluster = async (...args: string[]): Promise<void> => {
  await run('bash', [path.join(REPO_ROOT, 'scripts/infra-cluster.sh'), ...args], {
    env: process.env,
    timeout: 180_000,
  });
};

interface Occurrence {
  uuid: string;
  type: 'recording.completed' | 'meeting.started';
  files: SimFile[];
  copies: number;
  outcomes: DeliveryOutcome[];
}

const brokerId = (port: number, base: number) => port - base + 1;

/** Broker id -> number of partitions of `topic` it leads. */
async function leaders(topic: string): Promise<Map<number, number>> {
  return withAdmin(async (admin) => {
    const md = await admin.fetchTopicMetadata({ topics: [topic] });
    const count = new Map<number, number>();
    for (const p of md.topics[0]!.partitions) count.set(p.leader, (count.get(p.leader) ?? 0) + 1);
    return count;
  });
}

/** Partitions of the topics whose ISR is not the full replica set. */
async function underReplicated(topics: string[]): Promise<number> {
  return withAdmin(async (admin) => {
    const md = await admin.fetchTopicMetadata({ topics });
    return md.topics.reduce(
      (n, t) => n + t.partitions.filter((p) => p.isr.length < p.replicas.length || p.leader < 0).length,
      0,
    );
  });
}

/**
 * The broker that coordinates dedup's transactional id. ListTransactions answers from the coordinator's own
 * transaction state, so the broker listing a `zoom-pipeline-dedup-*` id is its coordinator.
 */
async function dedupCoordinator(brokers: string[]): Promise<{ node: string; transactionalIds: string[] } | undefined> {
  for (const b of brokers) {
    const [host, port] = b.split(':');
    const c = new Connection('zp-failover-test');
    try {
      await c.connect(host!, Number(port));
      const res = await listTransactionsV1.api.async(c, [], [], -1n, null);
      const ids = res.transactionStates.map((t) => t.transactionalId).filter((id) => id.startsWith(`${DEDUP_GROUP}-`));
      if (ids.length > 0) return { node: b, transactionalIds: ids };
    } catch {
      /* a broker that is down or loading: try the next */
    } finally {
      await c.close().catch(() => undefined);
    }
  }
  return undefined;
}

const describeFailover = FAILOVER ? describe : describe.skip;
const title = FAILOVER
  ? 'failover on a 3-broker cluster: nothing acknowledged lost, nothing doubled'
  : 'failover on a 3-broker cluster (skipped: needs scripts/infra-cluster.sh; run ' +
    '`npm run chaos:failover`, which sets ZP_FAILOVER=1)';

describeFailover(title, () => {
  let e: ReturnType<typeof loadEndpoints>;
  let brokers: string[];
  let base: number;
  let bucket: string;
  let dl: DownloadServer;
  let marks = new Map<string, TopicMark>();
  const apps = new Map<AppName, AppProcess>();
  const envs = new Map<AppName, Record<string, string>>();
  /** Liveness restarts, as the kubelet does them (helm: GET /healthz, failureThreshold 3). */
  const restarts: string[] = [];
  let supervising = false;
  let supervisor: Promise<void> | undefined;

  beforeAll(async () => {
    e = loadEndpoints();
    brokers = e.kafkaBrokers.split(',');
    if (brokers.length < 3)
      throw new Error(
        'ZP_FAILOVER=1 needs the 3-broker cluster (scripts/infra-cluster.sh up; ' +
          `ZP_ENDPOINTS_FILE=<its endpoints.json>), got kafkaBrokers=${e.kafkaBrokers}`,
      );
    base = Math.min(...brokers.map((b) => Number(b.split(':')[1])));
    bucket = uniqueName('zp-failover');
    dl = await startDownloadServer();
    const common = {
      KAFKA_BROKERS: e.kafkaBrokers,
      REDIS_URL: e.redisUrl,
      REDIS_KEY_PREFIX: `${bucket}:`,
      LOG_LEVEL: 'warn',
    };
    const env: Record<AppName, Record<string, string>> = {
      ingress: { ...common, ZOOM_WEBHOOK_SECRET_TOKEN: SECRET, PORT: String(await freePort()) },
      dedup: common,
      uploader: {
        ...common,
        ...uploaderS3Env(e, bucket),
        UPLOAD_CONCURRENCY: '4',
      },
      standalone: {},
    };
    // Ingress first: it creates the topics (RF = the cluster's default.replication.factor, 3).
    for (const name of ['ingress', 'dedup', 'uploader'] as const) {
      envs.set(name, env[name]);
      apps.set(name, await startApp(name, env[name], { waitFor: 'healthz', timeoutMs: 90_000 }));
    }
    // The test plays the kubelet: /healthz polled every 2 s, 3 failures in a row (or an exited process) and the
    // process is killed and started again. A consumer whose stream failed reports itself dead on /healthz and
    // counts on exactly this (libs/event-bus: platformatic-consumer.ts, 'kafka consumer stream failed').
    supervising = true;
    supervisor = (async () => {
      const failures = new Map<AppName, number>();
      while (supervising) {
        await sleep(2_000);
        for (const [name, app] of apps) {
          if (!supervising) break;
          let ok = app.child.exitCode === null && app.child.signalCode === null;
          if (ok)
            ok = await fetch(`${app.url}/healthz`, { signal: AbortSignal.timeout(2_000) }).then(
              (r) => r.ok,
              () => false,
            );
          failures.set(name, ok ? 0 : (failures.get(name) ?? 0) + 1);
          if ((failures.get(name) ?? 0) >= 3) {
            restarts.push(`${new Date().toISOString()} ${name}`);
            process.stdout.write(`failover: ${name} failed its liveness probe 3 times: killing and restarting it\n`);
            writeFileSync(path.join(tmpdir(), `zp-failover-${name}-${restarts.length}.log`), app.output());
            await app.kill('SIGKILL');
            apps.set(name, await startApp(name, envs.get(name)!, { waitFor: 'healthz', timeoutMs: 90_000 }));
            failures.set(name, 0);
          }
        }
      }
    })();
    // Right after the apps created the topics, a broker may not know it leads a partition yet: retry briefly.
    for (let attempt = 1; ; attempt++) {
      try {
        marks = await markTopics(TOPICS.raw, TOPICS.events, TOPICS.uploaded);
        break;
      } catch (err) {
        if (attempt >= 15) throw err;
        await new Promise((r) => setTimeout(r, 1_000));
      }
    }
  });

  afterAll(async () => {
    supervising = false;
    await supervisor?.catch(() => undefined);
    await Promise.all([...apps.values()].map((a) => a.kill('SIGTERM')));
    // The apps' logs (LOG_LEVEL=warn) for the post-mortem of a failed run.
    for (const [name, a] of apps) {
      const file = path.join(tmpdir(), `zp-failover-${name}.log`);
      writeFileSync(file, a.output());
      process.stdout.write(`failover: ${name} log in ${file}\n`);
    }
    await dl?.close();
    if (bucket) await removeBucket(bucket);
  });

  it('kills the raw-topic leader, then the transaction coordinator, under load; restarts both', async () => {
    const t0 = Date.now();
    const at = () => `${((Date.now() - t0) / 1000).toFixed(1)}s (${new Date().toISOString().slice(11, 23)})`;
    const note = (what: string) => process.stdout.write(`failover ${at()}: ${what}\n`);
    const sender = new ZoomWebhookSender({
      targetUrl: `${apps.get('ingress')!.url}/webhooks/zoom`,
      secret: SECRET,
      retryDelaysMs: [2_000, 8_000, 25_000],
    });
    const timeline: string[] = [];
    const mark = (what: string) => {
      timeline.push(`${at()} ${what}`);
      note(what);
    };

    // Before the next kill: a broker that has not caught up would leave partitions with one in-sync replica.
    const waitIsr = async (what: string) => {
      const started = Date.now();
      await waitFor(
        `${what}: every partition of ${TOPICS.raw}, ${TOPICS.events}, ` +
          `${TOPICS.files} and __transaction_state back in sync`,
        async () => (await underReplicated([TOPICS.raw, TOPICS.events, TOPICS.files, '__transaction_state'])) === 0,
        120_000,
        1_000,
      );
      mark(`${what}: all replicas in sync again (${((Date.now() - started) / 1000).toFixed(1)}s)`);
    };

    // Progress, every 5 s: the ends of the raw and events topics (events counts transaction markers too).
    let monitoring = true;
    const monitor = (async () => {
      while (monitoring) {
        await sleep(5_000);
        const ends = await withAdmin(async (admin) =>
          Promise.all(
            [TOPICS.raw, TOPICS.events, TOPICS.uploaded].map(async (t) =>
              (await admin.fetchTopicOffsets(t)).reduce((n, p) => n + Number(p.high), 0),
            ),
          ),
        ).catch((err: Error) => err.message);
        note(`progress: raw/events/uploaded ends ${JSON.stringify(ends)}, sender ${JSON.stringify(sender.stats())}`);
      }
    })();

    let faultsDone = false;
    const faults = (async () => {
      try {
        await sleep(10_000);
        const lead = [...(await leaders(TOPICS.raw)).entries()].sort((a, b) => b[1] - a[1])[0]!;
        const victim = lead[0]; // node.id = broker id (scripts/infra-cluster.sh)
        mark(
          `SIGKILL broker ${victim} (leads ${lead[1]} of the ${TOPICS.raw} partitions; leaders ` +
            `${JSON.stringify([...(await leaders(TOPICS.raw)).entries()])})`,
        );
        await cluster('kill', String(victim));
        await sleep(DOWN_MS);
        mark(
          `leaders of ${TOPICS.raw} while broker ${victim} is down: ` +
            `${JSON.stringify([...(await leaders(TOPICS.raw)).entries()])}`,
        );
        await cluster('start', String(victim));
        mark(`broker ${victim} restarted`);
        await waitIsr(`after broker ${victim}`);

        await sleep(5_000);
        const coord = await waitFor(
          'a broker listing a dedup transactional id',
          () => dedupCoordinator(brokers),
          30_000,
          1_000,
        );
        const coordinator = brokerId(Number(coord.node.split(':')[1]), base);
        mark(`SIGKILL broker ${coordinator} (transaction coordinator of ${coord.transactionalIds.join(', ')})`);
        await cluster('kill', String(coordinator));
        await sleep(DOWN_MS);
        const moved = await dedupCoordinator(brokers);
        mark(
          `dedup transactions while broker ${coordinator} is down: coordinated by ` +
            `${moved ? `${moved.node} (${moved.transactionalIds.join(', ')})` : 'no broker answering yet'}`,
        );
        await cluster('start', String(coordinator));
        mark(`broker ${coordinator} restarted`);
        await waitIsr(`after broker ${coordinator}`);
      } finally {
        faultsDone = true;
      }
    })();

    const occurrences: Occurrence[] = [];
    const sends: Promise<void>[] = [];
    for (let i = 0; i < MAX_OCCURRENCES && (!faultsDone || Date.now() - t0 < MIN_SECONDS * 1000); i++) {
      const recording = i % 6 === 0;
      const files = recording
        ? Array.from({ length: 1 + (i % 2) }, (_, j) =>
            dl.addFile({ size: 20_000 + ((i * 7919 + j * 104729) % 200_000), fileExtension: 'MP4' }),
          )
        : [];
      const o: Occurrence = {
        uuid: zoomMeetingUuid(),
        type: recording ? 'recording.completed' : 'meeting.started',
        files,
        copies: Math.random() < 0.2 ? 2 + Math.floor(Math.random() * 2) : 1,
        outcomes: [],
      };
      occurrences.push(o);
      const body =
        o.type === 'recording.completed'
          ? recordingCompleted({
              downloadBaseUrl: dl.url,
              meetingUuid: o.uuid,
              downloadToken: dl.issueDownloadToken(o.files.map((f) => f.fileId)),
              files: o.files.map((f) => ({ id: f.fileId, size: f.size })),
            })
          : meetingStarted({ meetingUuid: o.uuid });
      sends.push(
        (async () => {
          o.outcomes =
            o.copies > 1
              ? await sender.sendCopies(body, o.copies, {
                  downloadTokenForCopy: () => dl.issueDownloadToken(o.files.map((f) => f.fileId)),
                })
              : [await sender.send(body)];
        })(),
      );
      await sleep(GAP_MS);
    }
    mark(`load over: ${occurrences.length} occurrences sent`);
    await faults;
    await Promise.all(sends);
    mark('every delivery acknowledged or given up');

    const acked = occurrences.filter((o) => o.outcomes.some((x) => x.acked));
    // The request id of every attempt that got a 2xx: each must be a record on zoom.webhooks.raw.
    const ackedRequestIds = occurrences.flatMap((o) =>
      o.outcomes.flatMap((x) => x.attempts.filter((a) => a.ok).map((a) => a.requestId)),
    );
    const expectedFiles = acked.flatMap((o) => o.files);
    const key = (o: Occurrence) => `${o.uuid}|us.zoom.${o.type}`;

    await waitFor(
      'every acknowledged occurrence and file to be processed',
      async () => {
        const events = (await readTopic(TOPICS.events, { from: marks.get(TOPICS.events), timeoutMs: 60_000 })).map(
          (r) => decodeCanonicalEvent(r.value),
        );
        const uploaded = (
          await readTopic(TOPICS.uploaded, { from: marks.get(TOPICS.uploaded), timeoutMs: 60_000 })
        ).map((r) => decodeUploadResult(r.value));
        const bySubject = new Map<string, number>();
        for (const ev of events)
          bySubject.set(`${ev.subject}|${ev.type}`, (bySubject.get(`${ev.subject}|${ev.type}`) ?? 0) + 1);
        const uploads = new Map<string, { fresh: number; alreadyStored: number }>();
        for (const u of uploaded) {
          const c = uploads.get(u.fileId) ?? { fresh: 0, alreadyStored: 0 };
          if (u.alreadyStored) c.alreadyStored++;
          else c.fresh++;
          uploads.set(u.fileId, c);
        }
        const missingEvents = acked.filter((o) => !bySubject.has(key(o))).length;
        const missingFiles = expectedFiles.filter((f) => !uploads.has(f.fileId)).length;
        note(`waiting: ${missingEvents} events and ${missingFiles} files missing`);
        return missingEvents === 0 && missingFiles === 0
          ? { bySubject, uploads, events: events.length, uploadedRecords: uploaded.length }
          : undefined;
      },
      180_000,
      5_000,
    ).finally(() => {
      monitoring = false;
    });
    // Let anything late (a doubled event or upload would come after the first) land before counting.
    await sleep(10_000);
    const events = (await readTopic(TOPICS.events, { from: marks.get(TOPICS.events), timeoutMs: 60_000 })).map((r) =>
      decodeCanonicalEvent(r.value),
    );
    const uploadedRecords = (
      await readTopic(TOPICS.uploaded, { from: marks.get(TOPICS.uploaded), timeoutMs: 60_000 })
    ).map((r) => decodeUploadResult(r.value));
    const raw = await readTopic(TOPICS.raw, { from: marks.get(TOPICS.raw), timeoutMs: 60_000 });
    mark('final reads done');
    monitoring = false;
    await monitor;

    const rawRequestIds = new Set(raw.map((r) => decodeRawDelivery(r.value, r.headers).headers.requestId));
    const bySubject = new Map<string, number>();
    for (const ev of events)
      bySubject.set(`${ev.subject}|${ev.type}`, (bySubject.get(`${ev.subject}|${ev.type}`) ?? 0) + 1);
    const perFile = new Map<string, number>();
    for (const u of uploadedRecords) perFile.set(u.fileId, (perFile.get(u.fileId) ?? 0) + 1);
    const allFiles = occurrences.flatMap((o) => o.files);
    const downloads = dl.stats().files;

    const lostDeliveries = ackedRequestIds.filter((id) => !rawRequestIds.has(id));
    const missingEvents = acked.filter((o) => (bySubject.get(key(o)) ?? 0) === 0);
    const doubledEvents = occurrences.filter((o) => (bySubject.get(key(o)) ?? 0) > 1);
    const missingUploads = expectedFiles.filter((f) => (perFile.get(f.fileId) ?? 0) === 0);
    const doubledUploads = allFiles.filter((f) => (perFile.get(f.fileId) ?? 0) > 1);
    // Each stored object was downloaded to its end exactly once (a second upload would download it again).
    const doubledDownloads = allFiles.filter(
      (f) => perFile.has(f.fileId) && (downloads[f.fileId]?.downloadsCompleted ?? 0) !== 1,
    );

    const figures = {
      seconds: Math.round((Date.now() - t0) / 1000),
      occurrences: occurrences.length,
      deliveries: occurrences.reduce((n, o) => n + o.copies, 0),
      httpAttempts: sender.stats().attempts,
      failedAttempts: sender.stats().failed,
      ackedDeliveries: ackedRequestIds.length,
      occurrencesAcked: acked.length,
      occurrencesNeverAcked: occurrences.length - acked.length,
      rawRecords: raw.length,
      events: events.length,
      files: expectedFiles.length,
      uploadedRecords: uploadedRecords.length,
      alreadyStoredRecords: uploadedRecords.filter((u) => u.alreadyStored).length,
      lostDeliveries: lostDeliveries.length,
      missingEvents: missingEvents.length,
      doubledEvents: doubledEvents.length,
      missingUploads: missingUploads.length,
      doubledUploads: doubledUploads.length,
      doubledDownloads: doubledDownloads.length,
      livenessRestarts: restarts.length,
    };
    process.stdout.write(`failover liveness restarts: ${restarts.join(', ') || 'none'}\n`);
    process.stdout.write(
      `failover timeline:\n  ${timeline.join('\n  ')}\nfailover figures: ${JSON.stringify(figures)}\n`,
    );
    if (doubledEvents.length > 0)
      process.stdout.write(
        `doubled events: ${doubledEvents.map((o) => `${o.type} ${o.uuid} x${bySubject.get(key(o))}`).join(', ')}\n`,
      );
    if (doubledUploads.length > 0)
      process.stdout.write(
        `doubled uploads: ${doubledUploads
          .map((f) => `${f.fileId} x${perFile.get(f.fileId)} (downloads ${downloads[f.fileId]?.downloadsCompleted})`)
          .join(', ')}\n`,
      );
    if (doubledDownloads.length > 0)
      process.stdout.write(
        `downloads != 1: ${doubledDownloads
          .map((f) => `${f.fileId}: ${downloads[f.fileId]?.downloadsCompleted}`)
          .join(', ')}\n`,
      );

    expect(acked.length).toBeGreaterThan(0);
    expect(expectedFiles.length).toBeGreaterThan(0);
    expect({
      lostDeliveries: lostDeliveries.length,
      missingEvents: missingEvents.length,
      doubledEvents: doubledEvents.length,
      missingUploads: missingUploads.length,
      doubledUploads: doubledUploads.length,
      doubledDownloads: doubledDownloads.length,
    }).toEqual({
      lostDeliveries: 0,
      missingEvents: 0,
      doubledEvents: 0,
      missingUploads: 0,
      doubledUploads: 0,
      doubledDownloads: 0,
    });
    expect(dl.stats().authHeaderLeaks).toBe(0);
  });
});
