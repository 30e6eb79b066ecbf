import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { CONTENT_CHUNK_SIZE, DeterministicContent } from './deterministic-content';

describe('DeterministicContent', () => {
  const size = 5 * CONTENT_CHUNK_SIZE + 1234;
  const content = new DeterministicContent('seed-a', size);
  const whole = content.toBuffer();

  it('any byte range equals the same slice of the whole file', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: size }),
        fc.integer({ min: 0, max: 3 * CONTENT_CHUNK_SIZE }),
        (offset, length) => {
          const buf = Buffer.alloc(length);
          const n = content.read(offset, buf);
          expect(n).toBe(Math.max(0, Math.min(length, size - offset)));
          expect(buf.subarray(0, n).equals(whole.subarray(offset, offset + n))).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('is deterministic per seed, differs between seeds, and has no repeated or all-zero chunks', () => {
    expect(new DeterministicContent('seed-a', size).toBuffer().equals(whole)).toBe(true);
    expect(new DeterministicContent('seed-b', size).toBuffer().equals(whole)).toBe(false);
    const chunkHashes = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const chunk = whole.subarray(i * CONTENT_CHUNK_SIZE, (i + 1) * CONTENT_CHUNK_SIZE);
      expect(chunk.every((b) => b === 0)).toBe(false);
      chunkHashes.add(createHash('sha256').update(chunk).digest('hex'));
    }
    expect(chunkHashes.size).toBe(5);
  });

  it('sha256() and chunks() agree with the bytes', () => {
    expect(content.sha256()).toBe(createHash('sha256').update(whole).digest('hex'));
    expect(Buffer.concat([...content.chunks(0, size, 10_000)]).equals(whole)).toBe(true);
    expect(Buffer.concat([...content.chunks(100, 200)]).equals(whole.subarray(100, 200))).toBe(true);
    expect(new DeterministicContent('empty', 0).sha256()).toBe(createHash('sha256').digest('hex'));
  });

  it('serves offsets deep into a large file without repeating its start', () => {
    const big = new DeterministicContent('big', 8 * 1024 ** 3);
    const a = Buffer.alloc(64);
    const b = Buffer.alloc(64);
    big.read(0, a);
    big.read(4 * 1024 ** 3, b);
    expect(a.equals(b)).toBe(false);
  });

  it('generates fast enough for multi-GiB benchmarks', () => {
    const bench = new DeterministicContent('bench', 256 * 1024 * 1024);
    const buf = Buffer.allocUnsafe(CONTENT_CHUNK_SIZE);
    const t0 = performance.now();
    for (let pos = 0; pos < bench.size;) pos += bench.read(pos, buf);
    const mbPerSec = bench.size / 1e6 / ((performance.now() - t0) / 1000);
    // Typically 2–3 GB/s; the bound is loose so that a busy CI machine does not fail it.
    expect(mbPerSec).toBeGreaterThan(300);
  });
});
