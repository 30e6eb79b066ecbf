/**
 * The embedded event log's durable journal: append-only segment files `journal-000001.log`, `journal-000002.log`, …
 * under one directory, holding frames
 *
 *   [u32 payload length][u32 crc32(payload)][payload]      (big-endian)
 *
 * where a payload is one atomic batch of entries (messages, offset commits, topic definitions).
 *
 * Why this shape:
 * - Atomicity for free. A consumer's outputs and its offset commit go into ONE frame. A crash mid-write
 *   leaves a torn tail (short frame or bad CRC) that recovery truncates, so after a restart either the whole
 *   batch exists or none of it: the same all-or-nothing a Kafka transaction gives.
 * - Durable before ack. `write` returns only after `fdatasync` (which also persists the file size), so a
 *   resolved publish survives a power cut, not just a process crash.
 * - Group commit. Callers hand over frames; the bus coalesces everything that arrives while a write+fsync is
 *   in flight into the next write, so N concurrent publishes cost ~1 fsync instead of N.
 * - Segments roll at `segmentBytes` (64 MiB by default) so a future retention pass can delete whole files.
 *   Only the LAST segment may have a torn tail; a bad frame in an earlier segment is real corruption and
 *   opening fails loudly instead of silently dropping acknowledged data.
 */
import { crc32 } from 'node:zlib';
import { promises as fs, constants as fsConstants } from 'node:fs';
import { join, resolve } from 'node:path';
import { fsyncDirectory, writeFully } from './durable-file';

/** Where recovery reports a torn tail it cut off (the event bus's logger fits). */
export interface JournalLogger {
  warn(fields: Record<string, unknown>, message: string): void;
}

export const FRAME_HEADER_BYTES = 8;
/** Sanity bound: a length above this is a torn or garbage header, not a real batch. */
export const MAX_FRAME_PAYLOAD_BYTES = 256 * 1024 * 1024;
export const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;
const SEGMENT_PATTERN = /^journal-(\d{6,})\.log$/;

export function segmentFileName(index: number): string {
  return `journal-${String(index).padStart(6, '0')}.log`;
}

export function encodeFrame(payload: Buffer): Buffer {
  const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  header.writeUInt32BE(payload.length, 0);
  header.writeUInt32BE(crc32(payload), 4);
  return Buffer.concat([header, payload]);
}

export interface ScannedFrame {
  /** Byte position of the frame header in its segment. */
  position: number;
  payload: Buffer;
}

/**
 * Splits a segment's bytes into valid frames. `validBytes` is where the first invalid (torn, garbage or
 * CRC-mismatched) frame starts, i.e. the length the file should be truncated to.
 */
export function scanFrames(data: Buffer): { frames: ScannedFrame[]; validBytes: number } {
  const frames: ScannedFrame[] = [];
  let pos = 0;
  while (pos + FRAME_HEADER_BYTES <= data.length) {
    const length = data.readUInt32BE(pos);
    const crc = data.readUInt32BE(pos + 4);
    const end = pos + FRAME_HEADER_BYTES + length;
    if (length === 0 || length > MAX_FRAME_PAYLOAD_BYTES || end > data.length) break;
    const payload = data.subarray(pos + FRAME_HEADER_BYTES, end);
    if (crc32(payload) !== crc) break;
    frames.push({ position: pos, payload });
    pos = end;
  }
  return { frames, validBytes: pos };
}

export async function listSegments(dir: string): Promise<Array<{ index: number; path: string }>> {
  const names = await fs.readdir(dir);
  return names
    .map((name) => {
      const match = SEGMENT_PATTERN.exec(name);
      return match ? { index: Number(match[1]), path: join(dir, name) } : null;
    })
    .filter((s): s is { index: number; path: string } => s !== null)
    .sort((a, b) => a.index - b.index);
}

export class JournalCorruptError extends Error {
  readonly code = 'journal_corrupt';
  constructor(message: string) {
    super(message);
    this.name = 'JournalCorruptError';
  }
}

export interface JournalOptions {
  dir: string;
  segmentBytes?: number;
  logger: JournalLogger;
}

export interface JournalStats {
  /** write+fdatasync rounds (group commits). */
  syncs: number;
  /** Frames written (one per publish call or consumer batch commit). */
  frames: number;
  bytes: number;
}

/** Directories open in this process: the pid in the LOCK file cannot tell two instances of one process apart. */
const openInProcess = new Set<string>();

export class Journal {
  private fh: fs.FileHandle | null = null;
  private segmentIndex = 0;
  private size = 0;
  private broken: Error | null = null;
  private closed = false;
  readonly stats: JournalStats = { syncs: 0, frames: 0, bytes: 0 };

  private constructor(
    private readonly dir: string,
    private readonly segmentBytes: number,
    private readonly logger: JournalLogger,
  ) {}

  /**
   * Opens (creating if needed) the journal, replays every valid batch through `replay` in write order and
   * truncates a torn tail of the last segment.
   */
  static async open(options: JournalOptions, replay: (payload: Buffer) => void): Promise<Journal> {
    const dir = resolve(options.dir);
    // Owner only, like the embedded stores: the raw deliveries in it carry Zoom's download tokens.
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    await acquireLock(dir);
    const journal = new Journal(dir, options.segmentBytes ?? DEFAULT_SEGMENT_BYTES, options.logger);
    try {
      await journal.recover(replay);
    } catch (err) {
      await releaseLock(dir);
      throw err;
    }
    return journal;
  }

  get healthy(): boolean {
    return !this.closed && this.broken === null;
  }

  /**
   * Appends `frames` (already encoded) with one write and one fdatasync. Not re-entrant: the caller (the
   * group committer) keeps at most one call in flight, which is what makes file order = apply order.
   */
  async write(frames: readonly Buffer[]): Promise<void> {
    if (this.closed) throw new Error('journal is closed');
    if (this.broken) throw this.broken;
    const fh = this.fh;
    if (!fh) throw new Error('journal is not open');
    const data = frames.length === 1 ? frames[0] : Buffer.concat(frames);
    const start = this.size;
    try {
      await writeFully(fh, data, start);
    } catch (err) {
      // Cut the partial write off again, so the next batch does not land behind a torn frame (which recovery
      // would treat as the end of the log and drop).
      try {
        await fh.truncate(start);
        await fh.datasync();
      } catch (truncateErr) {
        this.broken = new Error(`journal cannot be written (${(truncateErr as Error).message}); restart the process`);
      }
      throw err;
    }
    try {
      // fdatasync, not fsync: the data and the file size (needed to read it back) are flushed; the mtime is not.
      await fh.datasync();
    } catch (err) {
      // After a failed fsync the kernel may have dropped the dirty pages ("fsyncgate"): the file no longer says
      // what we think it says. Refuse further writes; a restart re-validates every frame by CRC.
      this.broken = new Error(`journal fsync failed (${(err as Error).message}); restart the process`);
      throw err;
    }
    this.size = start + data.length;
    this.stats.syncs += 1;
    this.stats.frames += frames.length;
    this.stats.bytes += data.length;
    if (this.size >= this.segmentBytes) {
      await this.roll();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.fh?.close().catch(() => undefined);
    this.fh = null;
    await releaseLock(this.dir);
  }

  private async recover(replay: (payload: Buffer) => void): Promise<void> {
    const segments = await listSegments(this.dir);
    for (let i = 0; i < segments.length; i++) {
      const segment = segments[i];
      const isLast = i === segments.length - 1;
      const data = await fs.readFile(segment.path);
      const { frames, validBytes } = scanFrames(data);
      if (validBytes < data.length && !isLast) {
        throw new JournalCorruptError(
          `${segment.path}: invalid frame at byte ${validBytes} of ${data.length} in a sealed segment; ` +
            'refusing to start rather than drop acknowledged data',
        );
      }
      for (const frame of frames) replay(frame.payload);
      if (isLast) {
        this.segmentIndex = segment.index;
        this.fh = await fs.open(segment.path, fsConstants.O_RDWR);
        this.size = validBytes;
        if (validBytes < data.length) {
          // A crash in the middle of a write: the batch in the torn frame was never acknowledged (the caller
          // resolves only after fdatasync), so dropping it loses nothing that was promised.
          this.logger.warn(
            { segment: segment.path, droppedBytes: data.length - validBytes, keptBytes: validBytes },
            'journal: truncating a torn tail left by a crash',
          );
          await this.fh.truncate(validBytes);
          await this.fh.datasync();
        }
      }
    }
    if (!this.fh) {
      await this.createSegment(1);
    } else if (this.size >= this.segmentBytes) {
      await this.roll();
    }
  }

  private async roll(): Promise<void> {
    const previous = this.fh;
    await this.createSegment(this.segmentIndex + 1);
    await previous?.close();
  }

  private async createSegment(index: number): Promise<void> {
    const path = join(this.dir, segmentFileName(index));
    // 'wx': never reuse an existing file by accident.
    this.fh = await fs.open(path, 'wx', 0o600);
    this.segmentIndex = index;
    this.size = 0;
    // The new file's directory entry must be durable too, or a crash could lose the whole segment.
    await fsyncDirectory(this.dir);
  }
}

/**
 * One process per directory: two writers would interleave frames. The LOCK file holds the owner's pid; a lock
 * left by a dead process (crash) is taken over.
 */
async function acquireLock(dir: string): Promise<void> {
  if (openInProcess.has(dir)) {
    throw new Error(`event log ${dir} is already open in this process`);
  }
  const lockPath = join(dir, 'LOCK');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await fs.open(lockPath, 'wx');
      await fh.writeFile(String(process.pid));
      await fh.close();
      openInProcess.add(dir);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number((await fs.readFile(lockPath, 'utf8').catch(() => '')).trim());
      if (owner && owner !== process.pid && processAlive(owner)) {
        throw new Error(`event log ${dir} is locked by running process ${owner}`, { cause: err });
      }
      // Stale: its owner is gone (or it is this very pid after an in-process crash simulation).
      await fs.rm(lockPath, { force: true });
    }
  }
  throw new Error(`could not lock event log ${dir}`);
}

async function releaseLock(dir: string): Promise<void> {
  openInProcess.delete(dir);
  await fs.rm(join(dir, 'LOCK'), { force: true });
}

/** Signal 0 checks existence only; EPERM means it exists under another user. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
