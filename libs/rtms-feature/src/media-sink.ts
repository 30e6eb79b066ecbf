import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { sanitiseKeyId } from '@zoom-pipeline/canonical';
import { type RtmsTextMessage, TOPICS, encodeRtmsTextMessage } from '@zoom-pipeline/contracts';
import { type EventBus, type OutgoingMessage } from '@zoom-pipeline/event-bus';
import { type ObjectStore } from '@zoom-pipeline/object-store';
import {
  AUDIO_FORMAT,
  AudioSegmenter,
  type AudioSegment,
  GapCounter,
  type MediaFrame,
  bytesPerMs,
  wavHeader,
} from '@zoom-pipeline/rtms';
import { type Logger, inSpan } from '@zoom-pipeline/telemetry';
import { type RtmsMetrics } from './rtms.metrics';
import { type RtmsStreamInfo } from './stream-event';

/** Record headers of zoom.rtms.transcripts / zoom.rtms.chat. */
export const RTMS_HEADERS = {
  streamId: 'zp-rtms-stream-id',
  /**
   * The fencing token of the lease the writer held: a consumer may drop records of an older token after a newer one.
   */
  fence: 'zp-rtms-fence',
} as const;

export type { RtmsTextMessage } from '@zoom-pipeline/contracts';

export interface StoredSegment {
  key: string;
  startTimestamp: number;
  endTimestamp: number;
  bytes: number;
  sha256: string;
}

export interface MediaSinkDeps {
  objects: ObjectStore;
  bus: EventBus;
  metrics: RtmsMetrics;
  logger: Logger;
  segmentMs: number;
  /** False once the lease behind `fence` is lost: nothing more is written under it. */
  stillHolder(): Promise<boolean>;
}

/** Tries per write before a segment or message is given up (the stream goes on; the loss is counted and logged). */
const WRITE_ATTEMPTS = 5;

/**
 * Where one lease holder's media goes: audio frames into WAV segments in the object store, transcript and chat
 * messages onto their topics in arrival order, gaps counted. Writes run one after another on one chain, so
 * order is kept and a slow store delays, never reorders. Keys carry the fencing token, so two holders of one
 * stream (one paused past its lease) never write the same object.
 */
export class MediaSink {
  private readonly segmenter: AudioSegmenter;
  private readonly gaps = {
    audio: new GapCounter(30),
    transcript: new GapCounter(Number.MAX_SAFE_INTEGER),
    chat: new GapCounter(Number.MAX_SAFE_INTEGER),
  };
  private chain: Promise<void> = Promise.resolve();
  private pendingMessages: OutgoingMessage[] = [];
  readonly segments: StoredSegment[] = [];
  private lost = 0;
  private readonly prefix: string;

  constructor(
    private readonly info: RtmsStreamInfo,
    readonly fence: number,
    private readonly deps: MediaSinkDeps,
  ) {
    this.segmenter = new AudioSegmenter(deps.segmentMs);
    this.prefix = rtmsObjectPrefix(info);
  }

  onFrame(frame: MediaFrame): void {
    this.deps.metrics.mediaBytes.inc({ media: frame.media }, frame.data.length);
    if (frame.media === 'audio') {
      const ts = frame.timestamp ?? 0;
      this.countGap('audio', this.gaps.audio.observe(ts, frame.data.length / bytesPerMs(AUDIO_FORMAT)));
      const segment = this.segmenter.push(frame.data, ts);
      if (segment) this.enqueue(() => this.writeSegment(segment));
      return;
    }
    if (frame.media === 'transcript' || frame.media === 'chat') {
      const value: RtmsTextMessage = {
        v: 1,
        media: frame.media,
        product: this.info.product,
        instanceId: this.info.instanceId,
        streamId: this.info.streamId,
        ...(this.info.accountId ? { accountId: this.info.accountId } : {}),
        ...(frame.userId !== undefined ? { userId: frame.userId } : {}),
        ...(frame.userName !== undefined ? { userName: frame.userName } : {}),
        text: frame.text ?? '',
        ...(frame.timestamp !== undefined ? { timestamp: frame.timestamp } : {}),
        fence: this.fence,
      };
      this.pendingMessages.push({
        topic: frame.media === 'transcript' ? TOPICS.rtmsTranscripts : TOPICS.rtmsChat,
        key: this.info.instanceId,
        value: encodeRtmsTextMessage(value),
        headers: { [RTMS_HEADERS.streamId]: this.info.streamId, [RTMS_HEADERS.fence]: String(this.fence) },
      });
      // One publish for whatever queued up meanwhile, in arrival order.
      if (this.pendingMessages.length === 1) this.enqueue(() => this.publishPending());
    }
  }

  /** Writes the partial segment and waits for every queued write (graceful stop, stream end). */
  async flush(): Promise<void> {
    const last = this.segmenter.flush();
    if (last) this.enqueue(() => this.writeSegment(last));
    await this.chain;
  }

  /**
   * Flushes, then writes this holder's manifest (`manifest-<fence>.json`) and, when the stream is over, the
   * stream's `manifest.json` as seen by its last holder.
   */
  async finish(endReason: string | undefined): Promise<void> {
    await this.flush();
    const manifest = {
      v: 1,
      product: this.info.product,
      instanceId: this.info.instanceId,
      streamId: this.info.streamId,
      accountId: this.info.accountId,
      fence: this.fence,
      format: { codec: 'L16', ...AUDIO_FORMAT },
      segments: this.segments,
      audioGaps: this.gaps.audio.gaps,
      audioMissingMs: this.gaps.audio.missingMs,
      segmentsLost: this.lost,
      ended: endReason ?? null,
      note: 'segments of other holders of this stream (other fence values) are under the same prefix',
    };
    const body = Buffer.from(JSON.stringify(manifest, null, 2));
    const keys = [`${this.prefix}/manifest-${this.fence}.json`, ...(endReason ? [`${this.prefix}/manifest.json`] : [])];
    for (const key of keys) {
      await this.withRetries('manifest', () =>
        this.deps.objects.put({
          key,
          body: Readable.from([body]),
          contentLength: body.length,
          contentType: 'application/json',
          metadata: { 'rtms-stream-id': this.info.streamId, 'rtms-fence': String(this.fence) },
        }),
      );
    }
  }

  private countGap(media: 'audio', gapMs: number): void {
    if (gapMs <= 0) return;
    this.deps.metrics.mediaGaps.inc({ media });
    this.deps.metrics.mediaGapSeconds.inc({ media }, gapMs / 1000);
  }

  private enqueue(work: () => Promise<void>): void {
    this.chain = this.chain.then(work, work);
  }

  private async writeSegment(segment: AudioSegment): Promise<void> {
    // Fencing: a holder that lost its lease (paused, partitioned) writes nothing more.
    if (!(await this.deps.stillHolder().catch(() => false))) {
      this.lost += 1;
      this.deps.metrics.segments.inc({ outcome: 'fenced' });
      return;
    }
    const key = `${this.prefix}/audio/${segment.startTimestamp}-${this.fence}.wav`;
    const header = wavHeader(segment.pcm.length);
    const ok = await this.withRetries('segment', () =>
      inSpan(
        'rtms.audio_segment.put',
        { attributes: { 'zoom.rtms.stream_id': this.info.streamId, 'zoom.rtms.fence': this.fence } },
        () =>
          this.deps.objects.put({
            key,
            body: Readable.from([header, segment.pcm]),
            contentLength: header.length + segment.pcm.length,
            contentType: 'audio/wav',
            metadata: {
              'rtms-stream-id': this.info.streamId,
              'rtms-fence': String(this.fence),
              'rtms-start-timestamp': String(segment.startTimestamp),
              'rtms-end-timestamp': String(segment.endTimestamp),
            },
          }),
      ),
    );
    if (ok) {
      this.segments.push({
        key,
        startTimestamp: segment.startTimestamp,
        endTimestamp: segment.endTimestamp,
        bytes: segment.pcm.length,
        sha256: ok.sha256,
      });
      this.deps.metrics.segments.inc({ outcome: 'stored' });
    } else {
      this.lost += 1;
      this.deps.metrics.segments.inc({ outcome: 'failed' });
    }
  }

  private async publishPending(): Promise<void> {
    const batch = this.pendingMessages;
    this.pendingMessages = [];
    if (batch.length === 0) return;
    const ok = await this.withRetries('messages', () => this.deps.bus.publish(batch));
    for (const m of batch) {
      this.deps.metrics.messages.inc({
        media: m.topic === TOPICS.rtmsChat ? 'chat' : 'transcript',
        outcome: ok ? 'published' : 'failed',
      });
    }
  }

  private async withRetries<T>(what: string, fn: () => Promise<T>): Promise<T | undefined> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        if (attempt >= WRITE_ATTEMPTS) {
          this.deps.logger.error({ streamId: this.info.streamId, what, reason }, 'rtms write given up');
          return undefined;
        }
        this.deps.logger.warn({ streamId: this.info.streamId, what, attempt, reason }, 'rtms write failed; retrying');
        await sleep(200 * 2 ** attempt);
      }
    }
  }
}

/**
 * Objects of one stream: `rtms/<account>/<yyyy>/<mm>/<dd>/<instance>/<stream>/…`, dated by the rtms_started time
 * (UTC), so a meeting's streams sit together like its recordings. Ids go through the object-key sanitiser.
 */
export function rtmsObjectPrefix(info: RtmsStreamInfo): string {
  const d = new Date(info.startedAt);
  const pad = (n: number): string => String(n).padStart(2, '0');
  const date = Number.isFinite(d.getTime())
    ? `${d.getUTCFullYear()}/${pad(d.getUTCMonth() + 1)}/${pad(d.getUTCDate())}`
    : 'unknown-date';
  const account = sanitiseKeyId(info.accountId ?? 'unknown-account');
  return `rtms/${account}/${date}/${sanitiseKeyId(info.instanceId)}/${sanitiseKeyId(info.streamId)}`;
}
