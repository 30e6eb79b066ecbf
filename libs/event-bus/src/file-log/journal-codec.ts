/**
 * Binary encoding of one journal batch (the payload of one frame). Binary rather than JSON: values are raw
 * bytes (base64 would cost a third more disk and CPU on the ack path).
 *
 *   u8 version (1) · u32 entry count · entries
 *   entry: u8 kind, then
 *     1 topic   : str topic · u32 partitions
 *     2 message : str topic · u32 partition · nstr key · f64 timestamp · u16 header count · (str, str)* · bytes value
 *     3 commit  : str group · str topic · u32 partition · f64 offset
 *   str = u32 byte length + UTF-8; nstr = str, or length 0xFFFFFFFF for null; bytes = u32 length + bytes.
 * f64 holds offsets and timestamps exactly up to 2^53.
 */
import { type LogEntry } from '../log/log-state';

const VERSION = 1;
const KIND_TOPIC = 1;
const KIND_MESSAGE = 2;
const KIND_COMMIT = 3;
const NULL_LENGTH = 0xffffffff;

export function encodeEntries(entries: readonly LogEntry[]): Buffer {
  const w = new Writer();
  w.u8(VERSION);
  w.u32(entries.length);
  for (const e of entries) {
    switch (e.kind) {
      case 'topic':
        w.u8(KIND_TOPIC);
        w.str(e.topic);
        w.u32(e.partitions);
        break;
      case 'message': {
        w.u8(KIND_MESSAGE);
        w.str(e.topic);
        w.u32(e.partition);
        w.nstr(e.key);
        w.f64(e.timestamp);
        const headers = Object.entries(e.headers);
        w.u16(headers.length);
        for (const [k, v] of headers) {
          w.str(k);
          w.str(v);
        }
        w.bytes(e.value);
        break;
      }
      case 'commit':
        w.u8(KIND_COMMIT);
        w.str(e.groupId);
        w.str(e.topic);
        w.u32(e.partition);
        w.f64(e.offset);
        break;
    }
  }
  return w.finish();
}

export function decodeEntries(payload: Buffer): LogEntry[] {
  const r = new Reader(payload);
  const version = r.u8();
  if (version !== VERSION) throw new Error(`unsupported journal batch version ${version}`);
  const count = r.u32();
  const entries: LogEntry[] = [];
  for (let i = 0; i < count; i++) {
    const kind = r.u8();
    if (kind === KIND_TOPIC) {
      entries.push({ kind: 'topic', topic: r.str(), partitions: r.u32() });
    } else if (kind === KIND_MESSAGE) {
      const topic = r.str();
      const partition = r.u32();
      const key = r.nstr();
      const timestamp = r.f64();
      const headers: Record<string, string> = {};
      const headerCount = r.u16();
      for (let h = 0; h < headerCount; h++) {
        const k = r.str();
        headers[k] = r.str();
      }
      entries.push({ kind: 'message', topic, partition, key, timestamp, headers, value: r.bytes() });
    } else if (kind === KIND_COMMIT) {
      entries.push({ kind: 'commit', groupId: r.str(), topic: r.str(), partition: r.u32(), offset: r.f64() });
    } else {
      throw new Error(`unknown journal entry kind ${kind}`);
    }
  }
  if (!r.done()) throw new Error('trailing bytes after the last journal entry');
  return entries;
}

class Writer {
  private readonly chunks: Buffer[] = [];
  private scratch = Buffer.allocUnsafe(256);
  private pos = 0;

  u8(v: number): void {
    this.ensure(1);
    this.scratch.writeUInt8(v, this.pos);
    this.pos += 1;
  }
  u16(v: number): void {
    this.ensure(2);
    this.scratch.writeUInt16BE(v, this.pos);
    this.pos += 2;
  }
  u32(v: number): void {
    this.ensure(4);
    this.scratch.writeUInt32BE(v, this.pos);
    this.pos += 4;
  }
  f64(v: number): void {
    this.ensure(8);
    this.scratch.writeDoubleBE(v, this.pos);
    this.pos += 8;
  }
  str(v: string): void {
    this.bytes(Buffer.from(v, 'utf8'));
  }
  nstr(v: string | null): void {
    if (v === null) this.u32(NULL_LENGTH);
    else this.str(v);
  }
  bytes(v: Buffer): void {
    this.u32(v.length);
    // Large values are referenced, not copied into the scratch buffer.
    this.flushScratch();
    this.chunks.push(v);
  }
  finish(): Buffer {
    this.flushScratch();
    return Buffer.concat(this.chunks);
  }
  private ensure(n: number): void {
    if (this.pos + n > this.scratch.length) {
      this.flushScratch();
    }
  }
  private flushScratch(): void {
    if (this.pos > 0) {
      this.chunks.push(Buffer.from(this.scratch.subarray(0, this.pos)));
      this.scratch = Buffer.allocUnsafe(256);
      this.pos = 0;
    }
  }
}

class Reader {
  private pos = 0;
  constructor(private readonly buf: Buffer) {}

  u8(): number {
    this.need(1);
    return this.buf.readUInt8(this.pos++);
  }
  u16(): number {
    this.need(2);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  f64(): number {
    this.need(8);
    const v = this.buf.readDoubleBE(this.pos);
    this.pos += 8;
    return v;
  }
  str(): string {
    return this.bytes().toString('utf8');
  }
  nstr(): string | null {
    this.need(4);
    if (this.buf.readUInt32BE(this.pos) === NULL_LENGTH) {
      this.pos += 4;
      return null;
    }
    return this.str();
  }
  bytes(): Buffer {
    const len = this.u32();
    this.need(len);
    // Copy: the frame buffer of a whole segment must not stay pinned by one small value.
    const v = Buffer.from(this.buf.subarray(this.pos, this.pos + len));
    this.pos += len;
    return v;
  }
  done(): boolean {
    return this.pos === this.buf.length;
  }
  private need(n: number): void {
    if (this.pos + n > this.buf.length) throw new Error('journal batch is truncated');
  }
}
