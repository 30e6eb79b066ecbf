/**
 * RTMS connector (issue #18) against real Kafka, Redis and S3, zoom-sim playing Zoom's RTMS servers, two rtms
 * app processes as two pods. Canonical rtms_started/rtms_stopped events are put on zoom.events directly, as
 * dedup would emit them (and again, as a repeat the connector must tolerate on its own).
 */
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { randomBytes, randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { Kafka, logLevel } from 'kafkajs';
import { TOPICS } from '@zoom-pipeline/contracts';
import {
  type AppProcess,
  loadEndpoints,
  markTopics,
  readTopic,
  removeBucket,
  startApp,
  uniqueName,
  uploaderS3Env,
  waitFor,
} from '@zoom-pipeline/test-support';
import { type RtmsServer, frameBytes, rtmsEvent, startRtmsServer, zoomMeetingUuid } from '@zoom-pipeline/zoom-sim';

jest.setTimeout(300_000);

const e = loadEndpoints();
const bucket = uniqueName('zp-rtms');
const CLIENT_ID = 'rtms-e2e-client';
const SECRET = `rtms-e2e-secret-${randomBytes(6).toString('hex')}`;
const ACCOUNT = 'acctRtmsE2e';
const s3 = new S3Client({
  endpoint: e.s3.endpoint,
  region: e.s3.region,
  forcePathStyle: true,
  credentials: { accessKeyId: e.s3.accessKeyId, secretAccessKey: e.s3.secretAccessKey },
});
const kafka = new Kafka({ clientId: 'zp-rtms-test', brokers: [e.kafkaBrokers], logLevel: logLevel.NOTHING });
const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
const apps: AppProcess[] = [];
let sim: RtmsServer;
let wrongSim: RtmsServer;
let marks: Map<string, Map<number, number>>;

function rtmsEnv(instance: string): Record<string, string> {
  return {
    KAFKA_BROKERS: e.kafkaBrokers,
    REDIS_URL: e.redisUrl,
    REDIS_KEY_PREFIX: `${bucket}:`,
    ...uploaderS3Env(e, bucket),
    RTMS_CLIENT_ID: CLIENT_ID,
    RTMS_CLIENT_SECRET: SECRET,
    RTMS_INSTANCE_ID: instance,
    RTMS_LEASE_TTL: '3s',
    RTMS_AUDIO_SEGMENT: '1s',
    RTMS_RECONNECT_MAX_DELAY: '2s',
    // Only this run's streams: rtms_started events other suites left on the shared topic are older.
    RTMS_MAX_STREAM_AGE: '5m',
  };
}

/** The canonical event dedup would put on zoom.events for this Zoom body. */
function canonical(body: Record<string, unknown>, time = new Date()): Buffer {
  return Buffer.from(
    JSON.stringify({
      specversion: '1.0',
      id: randomBytes(32).toString('hex'),
      source: 'zoom-pipeline/default',
      type: `us.zoom.${String(body.event)}`,
      subject: 'x',
      time: time.toISOString(),
      datacontenttype: 'application/json',
      data: body,
      deliverycount: 1,
      zoomdeliveryid: randomUUID(),
      zoomapp: 'default',
    }),
  );
}

function started(streamId: string, meetingUuid: string, serverUrl: string): Record<string, unknown> {
  const b = rtmsEvent({ product: 'meeting', streamId, instanceId: meetingUuid, accountId: ACCOUNT });
  (b.payload as Record<string, unknown>).server_urls = serverUrl;
  return b as unknown as Record<string, unknown>;
}

async function publish(meetingUuid: string, ...values: Buffer[]): Promise<void> {
  await producer.send({ topic: TOPICS.events, messages: values.map((value) => ({ key: meetingUuid, value })) });
}

/** Every stored WAV of a stream, by object key, with the PCM after the 44-byte header. */
async function storedAudio(
  streamId: string,
): Promise<Array<{ key: string; start: number; fence: number; pcm: Buffer }>> {
  const out: Array<{ key: string; start: number; fence: number; pcm: Buffer }> = [];
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: `rtms/${ACCOUNT}/`, ContinuationToken: token }),
    );
    for (const o of page.Contents ?? []) {
      const m = /\/([^/]+)\/audio\/(\d+)-(\d+)\.wav$/.exec(o.Key!);
      if (!m || m[1] !== streamId) continue;
      const body = Buffer.from(
        await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: o.Key! }))).Body!.transformToByteArray(),
      );
      expect(body.toString('ascii', 0, 4)).toBe('RIFF');
      expect(body.readUInt32LE(40)).toBe(body.length - 44);
      out.push({ key: o.Key!, start: Number(m[2]), fence: Number(m[3]), pcm: body.subarray(44) });
    }
    token = page.NextContinuationToken;
  } while (token);
  return out.sort((a, b) => a.start - b.start);
}

async function objectExists(suffix: string): Promise<boolean> {
  const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `rtms/${ACCOUNT}/` }));
  return (page.Contents ?? []).some((o) => o.Key!.endsWith(suffix));
}

/** Splits stored segments back into the sim's 640-byte frames: frame timestamp → bytes. */
function storedFrames(segments: Array<{ start: number; pcm: Buffer }>): Map<number, Buffer[]> {
  const frames = new Map<number, Buffer[]>();
  for (const s of segments) {
    expect(s.pcm.length % 640).toBe(0);
    for (let i = 0; i * 640 < s.pcm.length; i++) {
      const ts = s.start + i * 20;
      frames.set(ts, [...(frames.get(ts) ?? []), s.pcm.subarray(i * 640, (i + 1) * 640)]);
    }
  }
  return frames;
}

beforeAll(async () => {
  marks = await markTopics(TOPICS.rtmsTranscripts);
  // Keep-alives every 300 ms, alternating text and binary frames; unanswered for 1.5 s closes the socket (1000).
  // Audio at 4x real time: a 20 ms frame every 5 ms.
  sim = await startRtmsServer({
    clientId: CLIENT_ID,
    clientSecret: SECRET,
    keepAliveIntervalMs: 300,
    keepAliveTimeoutMs: 1500,
    keepAliveFrames: 'alternate',
    frameIntervalMs: 5,
  });
  wrongSim = await startRtmsServer({
    clientId: CLIENT_ID,
    clientSecret: 'the-secret-zoom-knows',
    keepAliveIntervalMs: 300,
  });
  await producer.connect();
  apps.push(await startApp('rtms', rtmsEnv('pod-a'), { waitFor: 'readyz' }));
  apps.push(await startApp('rtms', rtmsEnv('pod-b'), { waitFor: 'readyz' }));
});

afterAll(async () => {
  await Promise.allSettled(apps.map((a) => a.kill('SIGKILL')));
  await producer.disconnect().catch(() => undefined);
  await sim?.close();
  await wrongSim?.close();
  await removeBucket(bucket);
});

test(
  'duplicate rtms_started (simultaneous and 5 min later) with two pods: one connection the whole ' +
    'time; the holder is killed, the other takes over; audio and transcripts without duplicates',
  async () => {
    const streamId = randomBytes(16).toString('hex');
    const meetingUuid = zoomMeetingUuid();
    const transcripts = Array.from({ length: 40 }, (_, i) => ({ atFrame: 25 + i * 50, text: `line ${i}` }));
    sim.addStream({ streamId, instanceId: meetingUuid, audioFrames: 2000, transcripts });

    const body = started(streamId, meetingUuid, sim.signalingUrl);
    await publish(meetingUuid, canonical(body), canonical(body));
    await waitFor('first audio', async () => sim.stream(streamId).audioSent.length >= 200, 60_000);
    // Zoom resends an unacknowledged rtms_started about 5 minutes later (its own time says so).
    await publish(meetingUuid, canonical(body, new Date(Date.now() + 5 * 60_000)));
    await waitFor('more audio', async () => sim.stream(streamId).audioSent.length >= 500, 60_000);
    expect(sim.stream(streamId)).toMatchObject({ connections: 1, refusedConcurrent: 0, maxConcurrent: 1 });

    const holder = await waitFor('the holder logs its connection', async () =>
      apps.find((a) => a.output().includes(streamId) && a.output().includes('rtms stream connected')),
    );
    const other = apps.find((a) => a !== holder)!;
    const killedAt = Date.now();
    const sentBeforeKill = sim.stream(streamId).audioSent.length;
    await holder.kill('SIGKILL');
    await waitFor('the other pod connects', async () => sim.stream(streamId).connections === 2, 60_000);
    const takeoverMs = Date.now() - killedAt;
    await waitFor('the stream ends', async () => sim.stream(streamId).ended, 120_000);
    await waitFor('the manifest', () => objectExists(`${streamId}/manifest.json`), 30_000);

    const st = sim.stream(streamId);
    expect(st).toMatchObject({ connections: 2, refusedConcurrent: 0, maxConcurrent: 1 });
    expect(other.output()).toContain('rtms stream taken over');
    process.stdout.write(
      `rtms takeover: ${takeoverMs} ms after SIGKILL (lease 3 s); frames lost ` +
        `while nobody was connected: ${st.audioDropped}\n`,
    );

    // Audio: no frame stored twice; everything sent to the surviving pod stored byte for byte; of what was sent to the
    // killed pod, only a tail is missing: its unstored segment (at most 50 frames) plus what was still in flight when
    // it died (frames written after the kill went to a dead socket and do not count).
    const segments = await storedAudio(streamId);
    const frames = storedFrames(segments);
    for (const [ts, copies] of frames) expect({ ts, copies: copies.length }).toEqual({ ts, copies: 1 });
    const byConnection = new Map<number, typeof st.audioSent>();
    for (const f of st.audioSent) byConnection.set(f.connection, [...(byConnection.get(f.connection) ?? []), f]);
    const [first, second] = [...byConnection.values()];
    for (const f of second!) expect(frames.get(f.timestamp)?.[0]?.equals(frameBytes(streamId, f.index))).toBe(true);
    const storedOfFirst = first!.filter((f) => frames.has(f.timestamp));
    expect(storedOfFirst).toEqual(first!.slice(0, storedOfFirst.length));
    const sentToFirstBeforeKill = st.audioSent
      .slice(0, sentBeforeKill)
      .filter((f) => f.connection === first![0]!.connection);
    // At most one 1 s segment + 0.5 s in flight.
    expect(sentToFirstBeforeKill.length - storedOfFirst.length).toBeLessThanOrEqual(50 + 25);
    for (const f of storedOfFirst)
      expect(frames.get(f.timestamp)![0]!.equals(frameBytes(streamId, f.index))).toBe(true);
    expect(new Set(segments.map((s) => s.fence)).size).toBe(2);

    // Transcripts: keyed by the meeting, in order, none twice, all sent to the survivor present.
    const records = (await readTopic(TOPICS.rtmsTranscripts, { from: marks.get(TOPICS.rtmsTranscripts) })).filter(
      (r) => r.headers['zp-rtms-stream-id'] === streamId,
    );
    expect(new Set(records.map((r) => r.key))).toEqual(new Set([meetingUuid]));
    const lines = records.map((r) => JSON.parse(r.value.toString()) as { text: string; timestamp: number });
    expect(lines.map((l) => l.timestamp)).toEqual([...lines.map((l) => l.timestamp)].sort((a, b) => a - b));
    expect(new Set(lines.map((l) => l.text)).size).toBe(lines.length);
    const secondConn = second![0]!.connection;
    for (const t of st.transcriptsSent.filter((x) => x.connection === secondConn))
      expect(lines.map((l) => l.text)).toContain(t.text);

    // Keep-alives, text and binary, all answered: no socket closed for an unanswered one.
    expect(sim.stats().keepAlivesSent.binary).toBeGreaterThan(0);
    expect(sim.stats().keepAliveTimeouts).toBe(0);
  },
);

test(
  'a stream without outage: the stored audio bytes equal the bytes zoom-sim sent; ' +
    'the end frees the lease and rtms_stopped changes nothing',
  async () => {
    const streamId = randomBytes(16).toString('hex');
    const meetingUuid = zoomMeetingUuid();
    sim.addStream({
      streamId,
      instanceId: meetingUuid,
      audioFrames: 600,
      transcripts: [{ atFrame: 10, text: 'hello' }],
    });
    await publish(meetingUuid, canonical(started(streamId, meetingUuid, sim.signalingUrl)));
    await waitFor('the stream ends', async () => sim.stream(streamId).ended, 60_000);
    await waitFor('the manifest', () => objectExists(`${streamId}/manifest.json`), 30_000);

    const st = sim.stream(streamId);
    expect(st.audioDropped).toBe(0);
    const stored = Buffer.concat((await storedAudio(streamId)).map((s) => s.pcm));
    expect(stored.length).toBe(600 * 640);
    expect(stored.equals(Buffer.concat(st.audioSent.map((f) => f.bytes)))).toBe(true);

    const redis = new Redis(e.redisUrl, { lazyConnect: false });
    try {
      expect(await redis.exists(`${bucket}:fenced:rtms:${streamId}`)).toBe(0);
      const stop = rtmsEvent({
        product: 'meeting',
        phase: 'stopped',
        streamId,
        instanceId: meetingUuid,
        accountId: ACCOUNT,
      }) as unknown as Record<string, unknown>;
      await publish(meetingUuid, canonical(stop), canonical(started(streamId, meetingUuid, sim.signalingUrl)));
      await new Promise((r) => setTimeout(r, 3_000));
      expect(await redis.exists(`${bucket}:fenced:rtms:${streamId}`)).toBe(0);
    } finally {
      redis.disconnect();
    }
    expect(sim.stream(streamId)).toMatchObject({ connections: 1, maxConcurrent: 1, refusedConcurrent: 0 });
  },
);

test("a wrong client secret: a clear error naming Zoom's reason, never the secret, and no retry storm", async () => {
  const streamId = randomBytes(16).toString('hex');
  const meetingUuid = zoomMeetingUuid();
  wrongSim.addStream({ streamId, instanceId: meetingUuid, audioFrames: 10 });
  await publish(meetingUuid, canonical(started(streamId, meetingUuid, wrongSim.signalingUrl)));
  const logLine = await waitFor('the refusal in a pod log', async () =>
    apps
      .filter((a) => a.child.exitCode === null && a.child.signalCode === null)
      .flatMap((a) => a.output().split('\n'))
      .find((l) => l.includes(streamId) && l.includes('rtms handshake refused')),
  );
  expect(JSON.parse(logLine)).toMatchObject({
    streamId,
    stage: 'signaling',
    statusCode: 1,
    reason: 'signature verification failed',
  });
  // Three lease periods later: still the one attempt (the stream is marked over for every pod).
  await new Promise((r) => setTimeout(r, 9_000));
  expect(wrongSim.stats().badSignatures).toBe(1);
  expect(wrongSim.stream(streamId).connections).toBe(0);
  for (const a of apps) expect(a.output()).not.toContain(SECRET);
});
