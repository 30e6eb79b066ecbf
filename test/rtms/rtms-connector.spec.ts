// RTMS connector on memory adapters with zoom-sim as Zoom: the fast tier of issue #18 (the e2e runs it on Kafka, Redis
// and S3).
import { randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { type RtmsSettings } from '@zoom-pipeline/config';
import { type CanonicalEvent } from '@zoom-pipeline/contracts';
import { MemoryDedupStore } from '@zoom-pipeline/dedup-store';
import { MemoryEventBus } from '@zoom-pipeline/event-bus';
import { MemoryObjectStore } from '@zoom-pipeline/object-store';
import { createLogger } from '@zoom-pipeline/telemetry';
import { type RtmsServer, frameBytes, startRtmsServer } from '@zoom-pipeline/zoom-sim';
import { Registry } from 'prom-client';
import { RtmsConnector, RtmsMetrics, rtmsLifecycle } from '@zoom-pipeline/rtms-feature';

jest.setTimeout(30_000);

const CLIENT_ID = 'unit-client';
const SECRET = 'unit-secret';

async function until(what: string, probe: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function settings(instanceId: string, over: Partial<RtmsSettings> = {}): RtmsSettings {
  return {
    credentials: { clientId: CLIENT_ID, clientSecret: SECRET },
    media: ['audio', 'transcript'],
    leaseTtlMs: 1_000,
    audioSegmentMs: 200,
    reconnectMaxDelayMs: 500,
    maxStreamAgeMs: 3_600_000,
    instanceId,
    ...over,
  };
}

describe('rtmsLifecycle', () => {
  const ce = (type: string, payload: Record<string, unknown>): CanonicalEvent => ({
    specversion: '1.0',
    id: 'x',
    source: 's',
    type,
    subject: 's',
    time: '2026-12-03T10:00:00.000Z',
    datacontenttype: 'application/json',
    data: { event: type.slice('us.zoom.'.length), payload },
    deliverycount: 1,
    zoomdeliveryid: 'd',
    zoomapp: 'default',
  });

  it('reads meeting, webinar and Video SDK session streams, flat or under payload.object', () => {
    expect(
      rtmsLifecycle(
        ce('us.zoom.meeting.rtms_started', {
          meeting_uuid: 'm==',
          rtms_stream_id: 's1',
          server_urls: 'wss://x',
          account_id: 'a',
        }),
      ),
    ).toEqual({
      kind: 'started',
      info: {
        product: 'meeting',
        streamId: 's1',
        instanceId: 'm==',
        handshakeField: 'meeting_uuid',
        serverUrls: 'wss://x',
        accountId: 'a',
        startedAt: Date.parse('2026-12-03T10:00:00.000Z'),
      },
    });
    expect(
      rtmsLifecycle(
        ce('us.zoom.webinar.rtms_started', {
          object: { webinar_uuid: 'w==', rtms_stream_id: 's2', server_urls: 'wss://x' },
        }),
      ),
    ).toMatchObject({
      info: { product: 'webinar', instanceId: 'w==', handshakeField: 'meeting_uuid' },
    });
    expect(
      rtmsLifecycle(
        ce('us.zoom.session.rtms_started', { session_id: 'v==', rtms_stream_id: 's3', server_urls: 'wss://x' }),
      ),
    ).toMatchObject({
      info: { product: 'session', instanceId: 'v==', handshakeField: 'session_id' },
    });
    expect(
      rtmsLifecycle(ce('us.zoom.meeting.rtms_stopped', { meeting_uuid: 'm==', rtms_stream_id: 's1', stop_reason: 6 })),
    ).toEqual({ kind: 'stopped', streamId: 's1', stopReason: 'meeting_ended' });
  });

  it('ignores other events and RTMS events without their ids', () => {
    expect(rtmsLifecycle(ce('us.zoom.meeting.started', { object: {} }))).toBeUndefined();
    expect(
      rtmsLifecycle(ce('us.zoom.meeting.rtms_started', { meeting_uuid: 'm==', server_urls: 'wss://x' })),
    ).toBeUndefined();
  });
});

describe('RtmsConnector with zoom-sim (memory adapters)', () => {
  let sim: RtmsServer;
  const store = new MemoryDedupStore();
  const objects = new MemoryObjectStore();
  const bus = new MemoryEventBus();
  const logs = new PassThrough();
  let logText = '';
  logs.on('data', (d: Buffer) => (logText += d.toString()));
  const logger = createLogger({ name: 'rtms-test', destination: logs });
  const connectors: RtmsConnector[] = [];
  const make = (id: string, over: Partial<RtmsSettings> = {}): RtmsConnector => {
    const c = new RtmsConnector({
      settings: settings(id, over),
      store,
      objects,
      bus,
      metrics: new RtmsMetrics(new Registry()),
      logger,
    });
    c.start();
    connectors.push(c);
    return c;
  };

  beforeAll(async () => {
    await bus.ensureTopics([
      { topic: 'zoom.rtms.transcripts', partitions: 1 },
      { topic: 'zoom.rtms.chat', partitions: 1 },
    ]);
    sim = await startRtmsServer({
      clientId: CLIENT_ID,
      clientSecret: SECRET,
      keepAliveIntervalMs: 50,
      keepAliveTimeoutMs: 400,
      keepAliveFrames: 'binary',
      frameIntervalMs: 2,
    });
  });

  afterAll(async () => {
    for (const c of connectors) c.crash();
    await sim.close();
  });

  const info = (streamId: string, serverUrls = sim.signalingUrl) => ({
    product: 'meeting' as const,
    streamId,
    instanceId: `${randomBytes(8).toString('base64')}==`,
    handshakeField: 'meeting_uuid' as const,
    serverUrls,
    accountId: 'acct',
    startedAt: Date.now(),
  });

  it(
    'answers binary keep-alives; two pods and a repeated rtms_started still make one connection; the survivor ' +
      'takes over a crashed holder',
    async () => {
      const streamId = randomBytes(16).toString('hex');
      const stream = info(streamId);
      sim.addStream({ streamId, instanceId: stream.instanceId, audioFrames: 1500 });
      const [a, b] = [make('pod-a'), make('pod-b')];
      await Promise.all([a.onStarted(stream), b.onStarted(stream), a.onStarted(stream)]);
      await until('audio', () => sim.stream(streamId).audioSent.length > 100);
      expect(sim.stats().keepAlivesSent.binary).toBeGreaterThan(0);
      const holder = a.held().includes(streamId) ? a : b;
      const other = holder === a ? b : a;
      expect(other.held()).toEqual([]);

      holder.crash();
      await until('takeover', () => sim.stream(streamId).connections === 2);
      await until('end', () => sim.stream(streamId).ended && other.tracked().length === 0);
      expect(sim.stream(streamId)).toMatchObject({ maxConcurrent: 1, refusedConcurrent: 0 });
      expect(sim.stats().keepAliveTimeouts).toBe(0);
      // The survivor stored what it received, byte for byte, under its own fence.
      const survivorFrames = sim
        .stream(streamId)
        .audioSent.filter((f) => f.connection === sim.stream(streamId).audioSent.at(-1)!.connection);
      expect(survivorFrames.every((f) => f.bytes.equals(frameBytes(streamId, f.index)))).toBe(true);
    },
  );

  it("gives a refused handshake up at once with Zoom's reason, and never logs the secret", async () => {
    const wrong = await startRtmsServer({ clientId: CLIENT_ID, clientSecret: 'another-secret' });
    try {
      const streamId = randomBytes(16).toString('hex');
      const stream = info(streamId, wrong.signalingUrl);
      wrong.addStream({ streamId, instanceId: stream.instanceId, audioFrames: 10 });
      const c = make('pod-c');
      await c.onStarted(stream);
      await until('refusal', () => logText.includes('rtms handshake refused'));
      await new Promise((r) => setTimeout(r, 1_500));
      expect(wrong.stats().badSignatures).toBe(1);
      expect(c.tracked()).toEqual([]);
      // A later rtms_started for the same stream (another pod, a replay) does not try again.
      await make('pod-d').onStarted(stream);
      await new Promise((r) => setTimeout(r, 500));
      expect(wrong.stats().badSignatures).toBe(1);
      expect(logText).not.toContain(SECRET);
    } finally {
      await wrong.close();
    }
  });

  it(
    'gives up after a few handshakes that Zoom closes without an answer (how a wrong secret looks on the ' +
      'wire), with a clear error',
    async () => {
      const silent = await startRtmsServer({
        clientId: CLIENT_ID,
        clientSecret: 'another-secret',
        badSignature: 'close',
      });
      try {
        const streamId = randomBytes(16).toString('hex');
        const stream = info(streamId, silent.signalingUrl);
        silent.addStream({ streamId, instanceId: stream.instanceId, audioFrames: 10 });
        const c = make('pod-e', { reconnectMaxDelayMs: 100 });
        await c.onStarted(stream);
        await until('give-up', () => logText.includes('rtms handshake never answered'));
        const attempts = silent.stats().badSignatures;
        expect(attempts).toBe(5);
        await new Promise((r) => setTimeout(r, 1_000));
        expect(silent.stats().badSignatures).toBe(attempts);
        expect(c.tracked()).toEqual([]);
      } finally {
        await silent.close();
      }
    },
  );
});
