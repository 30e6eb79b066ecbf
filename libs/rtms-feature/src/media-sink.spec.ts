import { PassThrough } from 'node:stream';
import { type EventBus, type OutgoingMessage } from '@zoom-pipeline/event-bus';
import { MemoryObjectStore } from '@zoom-pipeline/object-store';
import { createLogger } from '@zoom-pipeline/telemetry';
import { Registry } from 'prom-client';
import { MediaSink, rtmsObjectPrefix } from './media-sink';
import { RtmsMetrics } from './rtms.metrics';
import { type RtmsStreamInfo } from './stream-event';

const info: RtmsStreamInfo = {
  product: 'meeting',
  streamId: 'abc123',
  instanceId: '/Gx2k7+Rq0S1o9Lb//nYQw==',
  handshakeField: 'meeting_uuid',
  serverUrls: 'wss://x',
  accountId: 'acct',
  startedAt: Date.parse('2026-12-03T10:00:00Z'),
};

function setup(holder: () => boolean) {
  const objects = new MemoryObjectStore();
  const published: OutgoingMessage[][] = [];
  const bus = { publish: async (m: OutgoingMessage[]) => void published.push(m) } as unknown as EventBus;
  const registry = new Registry();
  const sink = new MediaSink(info, 7, {
    objects,
    bus,
    metrics: new RtmsMetrics(registry),
    logger: createLogger({ name: 't', destination: new PassThrough() }),
    segmentMs: 100,
    stillHolder: async () => holder(),
  });
  return { objects, published, sink, registry };
}

const frame = (i: number) => ({ media: 'audio' as const, data: Buffer.alloc(640, i), timestamp: 1000 + i * 20 });

describe('MediaSink', () => {
  it('stores audio as WAV segments keyed under the meeting with the fence, and a manifest at the end', async () => {
    const { objects, sink } = setup(() => true);
    for (let i = 0; i < 12; i++) sink.onFrame(frame(i));
    await sink.finish('zoom:meeting_ended');
    const prefix = rtmsObjectPrefix(info);
    expect(prefix).toMatch(/^rtms\/acct\/2026\/12\/03\/[^/]+\/abc123$/);
    expect(sink.segments.map((s) => s.key)).toEqual([
      `${prefix}/audio/1000-7.wav`,
      `${prefix}/audio/1100-7.wav`,
      `${prefix}/audio/1200-7.wav`,
    ]);
    const first = objects.read(`${prefix}/audio/1000-7.wav`)!;
    expect(first.readUInt32LE(40)).toBe(5 * 640);
    expect(first.subarray(44).equals(Buffer.concat([0, 1, 2, 3, 4].map((i) => frame(i).data)))).toBe(true);
    const manifest = JSON.parse(objects.read(`${prefix}/manifest.json`)!.toString()) as {
      fence: number;
      segments: unknown[];
      ended: string;
    };
    expect(manifest).toMatchObject({ fence: 7, ended: 'zoom:meeting_ended' });
    expect(manifest.segments).toHaveLength(3);
    expect(objects.read(`${prefix}/manifest-7.json`)).toBeDefined();
  });

  it('writes nothing more once the lease is lost (fencing)', async () => {
    let holding = true;
    const { objects, sink, registry } = setup(() => holding);
    for (let i = 0; i < 5; i++) sink.onFrame(frame(i));
    await sink.flush();
    holding = false;
    for (let i = 5; i < 10; i++) sink.onFrame(frame(i));
    await sink.flush();
    expect(sink.segments).toHaveLength(1);
    expect(objects.read(`${rtmsObjectPrefix(info)}/audio/1100-7.wav`)).toBeUndefined();
    expect(await registry.getSingleMetricAsString('zoom_rtms_audio_segments_total')).toContain('outcome="fenced"} 1');
  });

  it(
    'publishes transcripts and chat in arrival order, keyed by the meeting, with the stream and fence ' +
      'headers; counts audio gaps',
    async () => {
      const { published, sink, registry } = setup(() => true);
      sink.onFrame({ media: 'transcript', data: Buffer.from('one'), text: 'one', userName: 'A', timestamp: 1 });
      sink.onFrame({ media: 'chat', data: Buffer.from('hi'), text: 'hi', timestamp: 2 });
      sink.onFrame({ media: 'transcript', data: Buffer.from('two'), text: 'two', timestamp: 3 });
      sink.onFrame(frame(0));
      sink.onFrame(frame(10)); // 180 ms missing
      await sink.flush();
      const all = published.flat();
      expect(all.map((m) => [m.topic, m.key, JSON.parse(m.value.toString()).text])).toEqual([
        ['zoom.rtms.transcripts', info.instanceId, 'one'],
        ['zoom.rtms.chat', info.instanceId, 'hi'],
        ['zoom.rtms.transcripts', info.instanceId, 'two'],
      ]);
      expect(all[0]!.headers).toEqual({ 'zp-rtms-stream-id': 'abc123', 'zp-rtms-fence': '7' });
      expect(await registry.getSingleMetricAsString('zoom_rtms_media_gaps_total')).toContain('media="audio"} 1');
    },
  );
});
