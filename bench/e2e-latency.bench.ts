// End-to-end latency of the cluster apps (ingress + dedup + uploader processes, as the e2e tests start them):
// signed deliveries paced at fixed rates, and per delivery the time from the ingress's 200 to the canonical event
// being visible to a read_committed consumer of zoom.events; for 5 MB recordings, from the 200 to
// zoom.recording.uploaded. Run alone: `node dist/bench/e2e-latency.bench.js` (BENCH_E2E_DURATION_S,
// BENCH_E2E_RATES, BENCH_E2E_RECORDINGS shorten it).
import * as http from 'node:http';
import * as os from 'node:os';
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { Kafka, type Admin, type Consumer, logLevel } from 'kafkajs';
import { DEFAULT_PARTITIONS, TOPICS } from '@zoom-pipeline/contracts';
import { loadEndpoints, removeBucket, uniqueName, uploaderS3Env } from '@zoom-pipeline/test-support';
import {
  type DownloadServer,
  meetingStarted,
  recordingCompleted,
  startDownloadServer,
  zoomMeetingUuid,
} from '@zoom-pipeline/zoom-sim';
import { signDelivery } from '@zoom-pipeline/zoom-webhook';
import {
  type DistApp,
  fmt,
  kafkaBrokerPid,
  processCpuSeconds,
  sleep,
  startDistApp,
  writeSection,
} from './lib/bench-util';
import { percentile } from './lib/paced-load';

const DURATION_S = Number(process.env.BENCH_E2E_DURATION_S ?? 10);
const RATES = (process.env.BENCH_E2E_RATES ?? '500,2000')
  .split(',')
  .map(Number)
  .filter((n) => n > 0);
const RECORDINGS = Number(process.env.BENCH_E2E_RECORDINGS ?? 20);
const RECORDING_BYTES = 5 * 1024 * 1024;
/** Recordings are sent this often (a realistic trickle: each one is a whole meeting's end). */
const RECORDING_INTERVAL_MS = 250;
const CONNECTIONS = 50;
/** The readers' maxWaitTimeInMs (BENCH_E2E_READER_WAIT_MS): part of what a delivery's latency includes. */
const READER_WAIT_MS = Number(process.env.BENCH_E2E_READER_WAIT_MS ?? 50);
/** A delivery whose event has not appeared this long after the last 200 counts as missing. */
const SETTLE_MS = 60_000;

export interface LatencyRun {
  label: string;
  rate: number;
  sent: number;
  acked: number;
  /** 200 → visible on the output topic, ms, per acknowledged delivery that arrived. */
  latenciesMs: number[];
  missing: number;
  /** p50 / p99 of the ingress answer itself (due time → 200), for context. */
  ackP50: number;
  ackP99: number;
  /** Output record's timestamp (when the app that wrote it sent it) → seen by the reader, p50 / p99 ms. */
  readerLagP50: number;
  readerLagP99: number;
  /** That reader's fetch round trip, p50 ms (its idle fetches last READER_WAIT_MS). */
  readerFetchP50: number;
  /** Cores used during the run: ingress, dedup, uploader, broker. */
  cores: Record<string, number>;
}

export interface E2eResults {
  events: LatencyRun[];
  recordings?: LatencyRun;
  settings: string;
}

interface Delivery {
  body: Buffer;
  ts: string;
  /**
   * Record key on the output topic that marks this delivery done (meeting UUID on zoom.events, file id on uploaded).
   */
  key: string;
}

/** Reads `topic` read_committed (kafkajs's default isolation) from its end, noting when each key first appears. */
async function watch(kafka: Kafka, topic: string, seen: Map<string, number>): Promise<Consumer> {
  const groupId = `bench-e2e-${randomBytes(4).toString('hex')}`;
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: READER_WAIT_MS, readUncommitted: false });
  const stats = { lagMs: [] as number[], fetchMs: [] as number[] };
  readers.set(seen, stats);
  await consumer.connect();
  consumer.on(consumer.events.FETCH, (e: { payload: { duration: number } }) => stats.fetchMs.push(e.payload.duration));
  await consumer.subscribe({ topic, fromBeginning: false });
  const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
  await consumer.run({
    eachBatchAutoResolve: true,
    // A watcher commits nothing (its group is new and starts at the end) and reads every partition at once:
    // kafkajs's default commits after each partition's batch, one at a time, and those OffsetCommit round trips
    // held the fetch loop for 70-100 ms at 500/s, i.e. were most of what this bench measured.
    autoCommit: false,
    partitionsConsumedConcurrently: (DEFAULT_PARTITIONS as Record<string, number>)[topic] ?? 12,
    eachBatch: async ({ batch }) => {
      const now = performance.now();
      // The output record's timestamp is when the app that wrote it sent it: what follows is the rest of its
      // transaction (the dedup's), the commit markers, and this reader's own fetch wait.
      const wall = Date.now();
      for (const m of batch.messages) stats.lagMs.push(wall - Number(m.timestamp));
      for (const m of batch.messages) {
        const k = m.key?.toString();
        if (k !== undefined && !seen.has(k)) seen.set(k, now);
      }
    },
  });
  await joined;
  // Pin the group at the topic's end now, so nothing produced from here on is skipped by a late first fetch.
  await sleep(500);
  return consumer;
}

/**
 * Waits until the dedup group has committed up to the end of zoom.webhooks.raw (a backlog would skew the first run).
 */
async function waitForDedupIdle(admin: Admin, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ends = await admin.fetchTopicOffsets(TOPICS.raw);
    const committed =
      (await admin.fetchOffsets({ groupId: 'zoom-pipeline-dedup', topics: [TOPICS.raw] }))[0]?.partitions ?? [];
    const lag = ends.reduce((n, p) => {
      const c = Number(committed.find((x) => x.partition === p.partition)?.offset ?? -1);
      return n + Math.max(0, Number(p.high) - (c < 0 ? Number(p.low) : c));
    }, 0);
    if (lag === 0) return;
    if (Date.now() > deadline) throw new Error(`dedup still has ${lag} messages of backlog on ${TOPICS.raw}`);
    process.stderr.write(`  waiting for dedup to drain a backlog of ${lag}\n`);
    await sleep(2_000);
  }
}

/** Sends `deliveries` paced at `rate`/s; resolves with the 200 time of each acknowledged delivery (by key). */
function paced(
  url: string,
  deliveries: Delivery[],
  rate: number,
  acked: Map<string, number>,
): Promise<{ ackLatencies: number[] }> {
  const target = new URL(url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS, maxFreeSockets: CONNECTIONS });
  const ackLatencies: number[] = [];
  return new Promise((resolve) => {
    let sent = 0;
    let done = 0;
    const t0 = performance.now();
    const finish = (): void => {
      done += 1;
      if (done === deliveries.length) {
        agent.destroy();
        resolve({ ackLatencies });
      }
    };
    const fire = (i: number): void => {
      const d = deliveries[i];
      const due = t0 + (i * 1000) / rate;
      const req = http.request(
        {
          agent,
          host: target.hostname,
          port: target.port,
          method: 'POST',
          path: '/webhooks/zoom',
          headers: {
            'content-type': 'application/json; charset=utf-8',
            'content-length': String(d.body.length),
            'x-zm-request-timestamp': d.ts,
            'x-zm-signature': signDelivery(SECRET, d.ts, d.body),
          },
        },
        (res) => {
          res.resume();
          res.once('end', () => {
            if (res.statusCode === 200) {
              const now = performance.now();
              acked.set(d.key, now);
              ackLatencies.push(now - due);
            }
            finish();
          });
        },
      );
      req.setTimeout(10_000, () => req.destroy());
      req.once('error', () => finish());
      req.end(d.body);
    };
    const tick = (): void => {
      const due = Math.min(deliveries.length, Math.floor(((performance.now() - t0) * rate) / 1000) + 1);
      while (sent < due) fire(sent++);
      if (sent < deliveries.length) setTimeout(tick, 1);
    };
    tick();
  });
}

/** Per reader (by its `seen` map): lag behind the output records and fetch durations, reset by each measure(). */
const readers = new Map<Map<string, number>, { lagMs: number[]; fetchMs: number[] }>();
const SECRET = `bench-e2e-${randomBytes(12).toString('hex')}`;

async function measure(
  label: string,
  rate: number,
  deliveries: Delivery[],
  ingressUrl: string,
  seen: Map<string, number>,
  pids: Record<string, number | undefined>,
): Promise<LatencyRun> {
  const acked = new Map<string, number>();
  const reader = readers.get(seen) ?? { lagMs: [], fetchMs: [] };
  reader.lagMs.length = 0;
  reader.fetchMs.length = 0;
  const cpuBefore = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, processCpuSeconds(pid)]));
  const started = performance.now();
  const { ackLatencies } = await paced(ingressUrl, deliveries, rate, acked);
  // Wait for the outputs of every acknowledged delivery (or SETTLE_MS).
  const deadline = Date.now() + SETTLE_MS;
  while ([...acked.keys()].some((k) => !seen.has(k)) && Date.now() < deadline) await sleep(100);
  const elapsedS = (performance.now() - started) / 1000;
  const cores = Object.fromEntries(
    Object.entries(pids).map(([k, pid]) => [k, (processCpuSeconds(pid) - cpuBefore[k]) / elapsedS]),
  );
  const latenciesMs: number[] = [];
  let missing = 0;
  for (const [k, t] of acked) {
    const s = seen.get(k);
    if (s === undefined) missing += 1;
    // The consumer can see an event before the bench has processed its 200 (same process, same loop): 0, not < 0.
    else latenciesMs.push(Math.max(0, s - t));
  }
  latenciesMs.sort((a, b) => a - b);
  ackLatencies.sort((a, b) => a - b);
  const run: LatencyRun = {
    label,
    rate,
    sent: deliveries.length,
    acked: acked.size,
    latenciesMs,
    missing,
    ackP50: percentile(ackLatencies, 0.5),
    ackP99: percentile(ackLatencies, 0.99),
    readerLagP50: percentile(
      reader.lagMs.sort((a, b) => a - b),
      0.5,
    ),
    readerLagP99: percentile(reader.lagMs, 0.99),
    readerFetchP50: percentile(
      reader.fetchMs.sort((a, b) => a - b),
      0.5,
    ),
    cores,
  };
  process.stderr.write(
    `  ${label}: ` +
      `${JSON.stringify({
        ...run,
        latenciesMs: undefined,
        p50: percentile(latenciesMs, 0.5),
        p99: percentile(latenciesMs, 0.99),
      })}\n`,
  );
  return run;
}

export async function runE2eLatency(): Promise<E2eResults> {
  const e = loadEndpoints();
  const kafka = new Kafka({ clientId: 'bench-e2e', brokers: e.kafkaBrokers.split(','), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const bucket = uniqueName('zp-bench-e2e');
  // Claims and leases under a prefix of our own, dropped at the end (they would stay for DEDUP_WINDOW otherwise).
  const prefix = `${bucket}:`;
  const apps: DistApp[] = [];
  const consumers: Consumer[] = [];
  let dl: DownloadServer | undefined;
  try {
    dl = await startDownloadServer({ throttleBytesPerSec: undefined });
    const common = {
      KAFKA_BROKERS: e.kafkaBrokers,
      REDIS_URL: e.redisUrl,
      REDIS_KEY_PREFIX: prefix,
      LOG_LEVEL: 'warn',
      ZOOM_DOWNLOAD_ALLOWED_HOSTS: '127.0.0.1,127.0.0.2',
      ...(process.env.KAFKA_CLIENT ? { KAFKA_CLIENT: process.env.KAFKA_CLIENT } : {}),
    };
    const ingress = await startDistApp('ingress', { ...common, ZOOM_WEBHOOK_SECRET_TOKEN: SECRET });
    apps.push(ingress);
    const dedup = await startDistApp('dedup', common);
    apps.push(dedup);
    const uploader = await startDistApp('uploader', { ...common, ...uploaderS3Env(e, bucket) });
    apps.push(uploader);
    const pids = {
      ingress: ingress.child.pid,
      dedup: dedup.child.pid,
      uploader: uploader.child.pid,
      broker: kafkaBrokerPid(),
    };
    await waitForDedupIdle(admin, 600_000);

    const seenEvents = new Map<string, number>();
    const seenUploads = new Map<string, number>();
    consumers.push(await watch(kafka, TOPICS.events, seenEvents));
    consumers.push(await watch(kafka, TOPICS.uploaded, seenUploads));

    // Warm-up: 3 s at the first rate, not measured (JIT, connections, the first transactions: a just-started ingress
    // answered its first paced seconds 20x slower than the next ones).
    const ts = () => String(Math.floor(Date.now() / 1000));
    const eventDeliveries = (n: number): Delivery[] =>
      Array.from({ length: n }, () => {
        const uuid = zoomMeetingUuid();
        return { body: Buffer.from(JSON.stringify(meetingStarted({ meetingUuid: uuid }))), ts: ts(), key: uuid };
      });
    await measure('warm-up', RATES[0] ?? 500, eventDeliveries(3 * (RATES[0] ?? 500)), ingress.url, seenEvents, pids);
    const load = os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' / ');

    const events: LatencyRun[] = [];
    for (const rate of RATES) {
      events.push(
        await measure(
          `meeting.started at ${rate}/s`,
          rate,
          eventDeliveries(Math.round(rate * DURATION_S)),
          ingress.url,
          seenEvents,
          pids,
        ),
      );
    }

    let recordings: LatencyRun | undefined;
    if (RECORDINGS > 0) {
      const deliveries: Delivery[] = [];
      for (let i = 0; i < RECORDINGS; i++) {
        const token = randomBytes(180).toString('base64url');
        const f = dl.addFile({ size: RECORDING_BYTES, fileExtension: 'MP4', token });
        const body = recordingCompleted({
          downloadBaseUrl: dl.url,
          downloadToken: token,
          meetingUuid: zoomMeetingUuid(),
          files: [{ id: f.fileId, size: f.size, downloadUrl: f.downloadUrl }],
        });
        deliveries.push({ body: Buffer.from(JSON.stringify(body)), ts: ts(), key: f.fileId });
      }
      recordings = await measure(
        `recording.completed, one ${RECORDING_BYTES / 1024 / 1024} MiB MP4 each, every ${RECORDING_INTERVAL_MS} ms`,
        1000 / RECORDING_INTERVAL_MS,
        deliveries,
        ingress.url,
        seenUploads,
        pids,
      );
    }
    return {
      events,
      recordings,
      settings:
        'apps started from dist/ with their defaults (LOG_LEVEL=warn; dedup on ' +
        `KAFKA_CLIENT=${process.env.KAFKA_CLIENT ?? 'platformatic'}); uploader with S3Proxy and zoom-sim ` +
        `downloads; load average after the warm-up ${load}`,
    };
  } finally {
    for (const c of consumers) await c.disconnect().catch(() => undefined);
    for (const a of apps.reverse()) await a.kill();
    await dl?.close();
    await admin.disconnect();
    await removeBucket(bucket).catch(() => undefined);
    const redis = new Redis(e.redisUrl);
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 5_000);
      cursor = next;
      if (keys.length > 0) await redis.unlink(...keys);
    } while (cursor !== '0');
    await redis.quit();
  }
}

export function e2eMarkdown(r: E2eResults): string {
  const row = (x: LatencyRun, what: string) => {
    const l = x.latenciesMs;
    const c = x.cores;
    return (
      `| ${x.label} | ${what} | ${fmt(x.sent)} / ${fmt(x.acked)} / ${fmt(x.missing)} | ` +
      `${fmt(percentile(l, 0.5), 1)} | ${fmt(percentile(l, 0.9), 1)} | ${fmt(percentile(l, 0.99), 1)} | ` +
      `${fmt(l[l.length - 1] ?? Number.NaN, 1)} | ${fmt(x.ackP50, 1)} / ${fmt(x.ackP99, 1)} | ` +
      `${fmt(x.readerLagP50, 1)} / ${fmt(x.readerLagP99, 1)} (${fmt(x.readerFetchP50, 1)}) | ` +
      `${fmt(c.ingress, 2)} / ${fmt(c.dedup, 2)} / ${fmt(c.uploader, 2)} / ${fmt(c.broker, 2)} |`
    );
  };
  return [
    `Signed deliveries paced open loop (one due every 1/rate s, up to ${CONNECTIONS} keep-alive connections) to ` +
      `\`dist/apps/ingress\`, with \`dist/apps/dedup\` and \`dist/apps/uploader\` running as separate ` +
      `processes on the same Kafka, Redis and S3Proxy (${r.settings}). Latency per delivery = from the ` +
      `ingress's 200 to the first time the bench's \`read_committed\` consumer (kafkajs, its own group, ` +
      `\`maxWaitTimeInMs\` ${READER_WAIT_MS}, no offset commits, all partitions at once) sees the record ` +
      `with that delivery's key: the canonical event on \`zoom.events\` (distinct meeting UUIDs: every ` +
      `delivery is new), or \`zoom.recording.uploaded\` for the recordings (5 MiB from zoom-sim, stored on ` +
      `S3Proxy). ${DURATION_S} s per rate after a 3 s warm-up; one run each.`,
    '',
    '| deliveries | measured | sent / 200 / missing | p50 ms | p90 ms | p99 ms | max ms | ingress answer p50 / p99 ' +
      'ms | output record → seen p50 / p99 ms (reader fetch p50) | cores: ingress / dedup / uploader / ' +
      'broker |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...r.events.map((x) => row(x, '200 → `zoom.events`')),
    ...(r.recordings ? [row(r.recordings, '200 → `zoom.recording.uploaded`')] : []),
    '',
    `Missing = acknowledged but not seen within ${SETTLE_MS / 1000} s of the last 200. Output record → seen: from ` +
      `the timestamp the writing app's producer gave the output record to this delivery's reader seeing it ` +
      `(the rest of the dedup's transaction, its commit markers, the reader's fetch); in brackets that ` +
      `reader's fetch round trip p50 (well under ${READER_WAIT_MS} ms: its fetches return when a ` +
      'transaction commits, not at their maximum wait).',
  ].join('\n');
}

if (require.main === module) {
  runE2eLatency()
    .then((r) => {
      const md = e2eMarkdown(r);
      writeSection('e2e', md);
      process.stdout.write(`${md}\n`);
      process.exit(0);
    })
    .catch((err: unknown) => {
      process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    });
}
