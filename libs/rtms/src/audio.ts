import { AUDIO_FORMAT } from './protocol';

export interface PcmFormat {
  sampleRate: number;
  channels: number;
  bitsPerSample: number;
}

/** The 44-byte RIFF/WAVE header of `dataBytes` bytes of linear PCM (little-endian L16 when bitsPerSample is 16). */
export function wavHeader(dataBytes: number, format: PcmFormat = AUDIO_FORMAT): Buffer {
  const h = Buffer.alloc(44);
  const blockAlign = (format.channels * format.bitsPerSample) / 8;
  h.write('RIFF', 0, 'ascii');
  h.writeUInt32LE(36 + dataBytes, 4);
  h.write('WAVE', 8, 'ascii');
  h.write('fmt ', 12, 'ascii');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20); // PCM
  h.writeUInt16LE(format.channels, 22);
  h.writeUInt32LE(format.sampleRate, 24);
  h.writeUInt32LE(format.sampleRate * blockAlign, 28);
  h.writeUInt16LE(blockAlign, 32);
  h.writeUInt16LE(format.bitsPerSample, 34);
  h.write('data', 36, 'ascii');
  h.writeUInt32LE(dataBytes, 40);
  return h;
}

export function bytesPerMs(format: PcmFormat = AUDIO_FORMAT): number {
  return (format.sampleRate * format.channels * format.bitsPerSample) / 8 / 1000;
}

export interface AudioSegment {
  /** Zoom timestamp (ms) of the first frame in the segment. */
  startTimestamp: number;
  /** Zoom timestamp (ms) just past the last frame (its timestamp + its duration). */
  endTimestamp: number;
  frames: number;
  pcm: Buffer;
}

/**
 * Cuts a stream of PCM frames into segments of about `segmentMs` of audio. A segment closes when it holds
 * `segmentMs` worth of bytes; frames are never split, so segment bytes are exactly the received bytes.
 */
export class AudioSegmenter {
  private chunks: Buffer[] = [];
  private bytes = 0;
  private frames = 0;
  private start: number | undefined;
  private end = 0;
  private readonly limitBytes: number;

  constructor(
    segmentMs: number,
    private readonly format: PcmFormat = AUDIO_FORMAT,
  ) {
    this.limitBytes = Math.max(1, Math.round(segmentMs * bytesPerMs(format)));
  }

  /** Adds a frame; returns the segment it completed, if any. */
  push(pcm: Buffer, timestamp: number): AudioSegment | undefined {
    if (this.start === undefined) this.start = timestamp;
    this.chunks.push(pcm);
    this.bytes += pcm.length;
    this.frames += 1;
    this.end = timestamp + pcm.length / bytesPerMs(this.format);
    return this.bytes >= this.limitBytes ? this.flush() : undefined;
  }

  /** The partial segment (stream end, graceful stop), or undefined when empty. */
  flush(): AudioSegment | undefined {
    if (this.start === undefined || this.bytes === 0) return undefined;
    const segment: AudioSegment = {
      startTimestamp: this.start,
      endTimestamp: Math.round(this.end),
      frames: this.frames,
      pcm: Buffer.concat(this.chunks, this.bytes),
    };
    this.chunks = [];
    this.bytes = 0;
    this.frames = 0;
    this.start = undefined;
    return segment;
  }

  get pendingBytes(): number {
    return this.bytes;
  }
}

/**
 * Counts gaps in one media stream from the frames' timestamps. Zoom's media messages carry no sequence number,
 * so a gap is a frame that starts later than the previous one ended, by more than `toleranceMs`.
 */
export class GapCounter {
  private expected: number | undefined;
  gaps = 0;
  missingMs = 0;

  constructor(private readonly toleranceMs: number) {}

  /**
   * `durationMs`: how long the frame lasts (audio), or 0 for events such as transcripts. Returns the gap in ms, or 0.
   */
  observe(timestamp: number, durationMs: number): number {
    let gap = 0;
    if (this.expected !== undefined && timestamp - this.expected > this.toleranceMs) {
      gap = timestamp - this.expected;
      this.gaps += 1;
      this.missingMs += gap;
    }
    this.expected = Math.max(this.expected ?? 0, timestamp + durationMs);
    return gap;
  }

  /** After a reconnect the outage is not a gap in what Zoom sent on one connection: start afresh. */
  reset(): void {
    this.expected = undefined;
  }
}
