// RTMS connector on one pod: N concurrent streams of 16 kHz mono L16 audio (20 ms frames, real time) from zoom-sim,
// into real Redis (leases), S3 (WAV segments) and Kafka. Measures the pod's CPU and memory per stream, and whether it
// keeps up: the audio it received vs what zoom-sim sent, and zoom-sim's unsent socket backlog, over the run.
// `node dist/bench/rtms.bench.js` (BENCH_RTMS_STREAMS, BENCH_RTMS_SECONDS).
import { randomBytes, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import { Kafka, logLevel } from 'kafkajs';
import { TOPICS } from '@zoom-pipeline/contracts';
import { loadEndpoints, removeBucket, uniqueName, uploaderS3Env } from '@zoom-pipeline/test-support';
import { rtmsEvent, startRtmsServer, zoomMeetingUuid } from '@zoom-pipeline/zoom-sim';
import { fmt, processCpuSeconds, sleep, startDistApp } from './lib/bench-util';

const STREAMS = Number(process.env.BENCH_RTMS_STREAMS ?? 100);
const SECONDS = Number(process.env.BENCH_RTMS_SECONDS ?? 90);
const CLIENT_ID = 'bench-rtms';
const SECRET = randomBytes(16).toString('hex');

export interface RtmsBenchResult {
  streams: number;
  seconds: number;
  cpuPerStreamPct: number;
  cpuTotalPct: number;
  rssBaseMiB: number;
  rssMiB: number;
  rssPerStreamMiB: number;
  heapPerStreamMiB: number;
  sentMiB: number;
  receivedMiB: number;
  /** Audio bytes sent but not yet counted by the pod, at the start and the end of the window. */
  lagStartKiB: number;
  lagEndKiB: number;
  simBacklogEndKiB: number;
  keepAliveTimeouts: number;
  connections: number;
  segmentsStored: number;
}

function rssMiB(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
}

async function metric(url: string, name: string, label = ''): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n'))
    if (line.startsWith(name) && line.includes(label)) sum += Number(line.split(' ').at(-1));
  return sum;
}

export async function runRtms(): Promise<RtmsBenchResult> {
  const e = loadEndpoints();
  const bucket = uniqueName('zp-bench-rtms');
  const sim = await startRtmsServer({
    clientId: CLIENT_ID,
    clientSecret: SECRET,
    keepAliveIntervalMs: 5_000,
    keepAliveTimeoutMs: 20_000,
    keepAliveFrames: 'alternate',
    keepSentFrames: false,
  });
  const app = await startDistApp('rtms', {
    KAFKA_BROKERS: e.kafkaBrokers,
    REDIS_URL: e.redisUrl,
    REDIS_KEY_PREFIX: `${bucket}:`,
    ...uploaderS3Env(e, bucket),
    RTMS_CLIENT_ID: CLIENT_ID,
    RTMS_CLIENT_SECRET: SECRET,
    RTMS_INSTANCE_ID: 'bench-pod',
    RTMS_MAX_STREAM_AGE: '5m',
    LOG_LEVEL: 'warn',
  });
  const kafka = new Kafka({ clientId: 'zp-bench-rtms', brokers: [e.kafkaBrokers], logLevel: logLevel.NOTHING });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  try {
    await producer.connect();
    const pid = app.child.pid!;
    // Let the consumer replay zoom.events and settle before the baseline.
    await sleep(8_000);
    const rssBase = rssMiB(pid);
    const heapBase = await metric(app.url, 'nodejs_heap_size_used_bytes');
    const ids: string[] = [];
    const messages = [];
    for (let i = 0; i < STREAMS; i++) {
      const streamId = randomBytes(16).toString('hex');
      const meetingUuid = zoomMeetingUuid();
      ids.push(streamId);
      sim.addStream({ streamId, instanceId: meetingUuid, audioFrames: 1e9 });
      const body = rtmsEvent({
        product: 'meeting',
        streamId,
        instanceId: meetingUuid,
        accountId: 'benchAcct',
      }) as unknown as { payload: Record<string, unknown> };
      body.payload.server_urls = sim.signalingUrl;
      messages.push({
        key: meetingUuid,
        value: JSON.stringify({
          specversion: '1.0',
          id: randomBytes(32).toString('hex'),
          source: 'zoom-pipeline/default',
          type: 'us.zoom.meeting.rtms_started',
          subject: meetingUuid,
          time: new Date().toISOString(),
          datacontenttype: 'application/json',
          data: body,
          deliverycount: 1,
          zoomdeliveryid: randomUUID(),
          zoomapp: 'default',
        }),
      });
    }
    await producer.send({ topic: TOPICS.events, messages });
    const deadline = Date.now() + 60_000;
    while (ids.some((id) => sim.stream(id).openNow === 0)) {
      if (Date.now() > deadline)
        throw new Error(
          `only ${ids.filter((id) => sim.stream(id).openNow > 0).length} of ${STREAMS} streams connected`,
        );
      await sleep(200);
    }
    // Warm-up, then the measured window.
    await sleep(5_000);
    const sent = (): number => ids.reduce((n, id) => n + sim.stream(id).audioSentBytes, 0);
    const received = (): Promise<number> => metric(app.url, 'zoom_rtms_media_bytes_total', 'media="audio"');
    const cpu0 = processCpuSeconds(pid);
    const t0 = Date.now();
    const lagStart = sent() - (await received());
    const sent0 = sent();
    const recv0 = await received();
    await sleep(SECONDS * 1000);
    const lagEnd = sent() - (await received());
    const elapsed = (Date.now() - t0) / 1000;
    const cpu = (processCpuSeconds(pid) - cpu0) / elapsed;
    const rss = rssMiB(pid);
    const heap = await metric(app.url, 'nodejs_heap_size_used_bytes');
    const result: RtmsBenchResult = {
      streams: STREAMS,
      seconds: Math.round(elapsed),
      cpuTotalPct: 100 * cpu,
      cpuPerStreamPct: (100 * cpu) / STREAMS,
      rssBaseMiB: rssBase,
      rssMiB: rss,
      rssPerStreamMiB: (rss - rssBase) / STREAMS,
      heapPerStreamMiB: (heap - heapBase) / STREAMS / 1024 / 1024,
      sentMiB: (sent() - sent0) / 1024 / 1024,
      receivedMiB: ((await received()) - recv0) / 1024 / 1024,
      lagStartKiB: lagStart / 1024,
      lagEndKiB: lagEnd / 1024,
      simBacklogEndKiB: sim.backlogBytes() / 1024,
      keepAliveTimeouts: sim.stats().keepAliveTimeouts,
      connections: ids.reduce((n, id) => n + sim.stream(id).connections, 0),
      segmentsStored: await metric(app.url, 'zoom_rtms_audio_segments_total', 'outcome="stored"'),
    };
    return result;
  } finally {
    await app.kill();
    await producer.disconnect().catch(() => undefined);
    await sim.close();
    await removeBucket(bucket);
  }
}

export function rtmsMarkdown(r: RtmsBenchResult): string {
  return [
    `${r.streams} streams from zoom-sim (20 ms L16 frames as JSON + base64, real time, 50 frames/s each, ` +
      'keep-alives every 5 s alternating text/binary), one rtms process on real Redis, S3Proxy and Kafka, ' +
      `60 s WAV segments; measured over ${r.seconds} s after every stream connected and a 5 s warm-up. ` +
      'zoom-sim runs in the benchmark process on the same 2 cores.',
    '',
    '| measure | value |',
    '|---|---:|',
    `| CPU of the rtms process, total (% of one core) | ${fmt(r.cpuTotalPct, 1)} |`,
    `| CPU per stream (% of one core) | ${fmt(r.cpuPerStreamPct, 2)} |`,
    `| RSS before the streams / with them (MiB) | ${fmt(r.rssBaseMiB)} / ${fmt(r.rssMiB)} |`,
    `| memory per stream: RSS / JS heap (MiB) | ${fmt(r.rssPerStreamMiB, 2)} / ${fmt(r.heapPerStreamMiB, 2)} |`,
    '| audio sent by zoom-sim / counted by the pod in the window (MiB) | ' +
      `${fmt(r.sentMiB, 1)} / ${fmt(r.receivedMiB, 1)} |`,
    '| sent but not yet counted, window start → end (KiB; ≈ 0 and not growing: it ' +
      `keeps up) | ${fmt(r.lagStartKiB)} → ${fmt(r.lagEndKiB)} |`,
    `| zoom-sim socket backlog at the end (KiB) | ${fmt(r.simBacklogEndKiB)} |`,
    `| keep-alive timeouts / connections (one per stream expected) | ${r.keepAliveTimeouts} / ${r.connections} |`,
    `| audio segments stored | ${r.segmentsStored} |`,
  ].join('\n');
}

if (require.main === module) {
  runRtms()
    .then((r) => {
      process.stdout.write(`${rtmsMarkdown(r)}\n${JSON.stringify(r)}\n`);
      process.exit(0);
    })
    .catch((err: unknown) => {
      process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    });
}
