import { createCipheriv, createHash } from 'node:crypto';

/**
 * Deterministic file bytes of any size, produced on the fly so that a 2 GiB "recording" costs no memory
 * and any byte range can be produced without generating what precedes it (Range requests, resume).
 *
 * Layout: the file is cut into 64 KiB chunks. Chunk k is a per-seed 64 KiB base block (AES-256-CTR
 * keystream, i.e. pseudo-random and never all-zero) with every 32-bit word XOR-ed by a mask derived from
 * k, so no two chunks are equal and a receiver that duplicates, drops or reorders chunks gets a different
 * sha256. Generation is a word-wise XOR, several GB/s, far above what the pipeline under test can take.
 * The words are XOR-ed in host byte order; every platform Node runs on in practice is little-endian.
 */
export const CONTENT_CHUNK_SIZE = 64 * 1024;
const WORDS = CONTENT_CHUNK_SIZE / 4;

const baseBlocks = new Map<string, Uint32Array>();
const BASE_BLOCK_CACHE_LIMIT = 256;

function baseBlock(seed: string): Uint32Array {
  const cached = baseBlocks.get(seed);
  if (cached !== undefined) return cached;
  const key = createHash('sha256').update(`zoom-sim-content:${seed}`).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  const keystream = Buffer.concat([cipher.update(Buffer.alloc(CONTENT_CHUNK_SIZE)), cipher.final()]);
  // Copy into a fresh, 4-byte aligned array (a Buffer's byteOffset need not be aligned).
  const block = new Uint32Array(WORDS);
  Buffer.from(block.buffer).set(keystream);
  if (baseBlocks.size >= BASE_BLOCK_CACHE_LIMIT) baseBlocks.delete(baseBlocks.keys().next().value as string);
  baseBlocks.set(seed, block);
  return block;
}

/** murmur3's 32-bit finaliser: spreads consecutive chunk indexes into unrelated masks. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function chunkMask(index: number): number {
  const lo = index >>> 0;
  const hi = Math.floor(index / 0x1_0000_0000) >>> 0;
  return fmix32((lo ^ fmix32(hi + 0x9e3779b9)) + 0x7f4a7c15);
}

// One scratch chunk for unaligned reads; safe to share because read() is synchronous.
const scratchWords = new Uint32Array(WORDS);
const scratchBytes = Buffer.from(scratchWords.buffer);

function fillChunk(base: Uint32Array, index: number, out: Uint32Array): void {
  const mask = chunkMask(index);
  for (let i = 0; i < WORDS; i++) out[i] = base[i]! ^ mask;
}

export class DeterministicContent {
  private readonly base: Uint32Array;
  private digest: string | undefined;

  constructor(
    readonly seed: string,
    readonly size: number,
  ) {
    if (!Number.isSafeInteger(size) || size < 0)
      throw new Error('DeterministicContent: size must be a non-negative integer');
    this.base = baseBlock(seed);
  }

  /** Writes bytes [offset, offset + target.length) into target, clipped at the end of the file; returns the count. */
  read(offset: number, target: Buffer): number {
    const end = Math.min(this.size, offset + target.length);
    let pos = offset;
    while (pos < end) {
      const index = Math.floor(pos / CONTENT_CHUNK_SIZE);
      const within = pos - index * CONTENT_CHUNK_SIZE;
      const n = Math.min(CONTENT_CHUNK_SIZE - within, end - pos);
      fillChunk(this.base, index, scratchWords);
      scratchBytes.copy(target, pos - offset, within, within + n);
      pos += n;
    }
    return Math.max(0, end - offset);
  }

  /** The bytes [start, end) as fresh buffers of up to `chunkSize` bytes (for tests and clients). */
  *chunks(start = 0, end = this.size, chunkSize = CONTENT_CHUNK_SIZE): Generator<Buffer> {
    for (let pos = start; pos < Math.min(end, this.size);) {
      const buf = Buffer.allocUnsafe(Math.min(chunkSize, end - pos));
      pos += this.read(pos, buf);
      yield buf;
    }
  }

  /** All bytes in one buffer: only for small files in tests. */
  toBuffer(): Buffer {
    const buf = Buffer.allocUnsafe(this.size);
    this.read(0, buf);
    return buf;
  }

  /** Hex sha256 of the whole file, computed by streaming the generator once (then cached). */
  sha256(): string {
    if (this.digest === undefined) {
      const hash = createHash('sha256');
      const buf = Buffer.allocUnsafe(CONTENT_CHUNK_SIZE);
      for (let pos = 0; pos < this.size;) {
        const n = this.read(pos, buf);
        hash.update(n === buf.length ? buf : buf.subarray(0, n));
        pos += n;
      }
      this.digest = hash.digest('hex');
    }
    return this.digest;
  }
}
