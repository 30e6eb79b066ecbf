import { chunkMessages } from './event-bus.port';

const msg = (bytes: number, id: number) => ({ id, value: Buffer.alloc(bytes) });

describe('chunkMessages', () => {
  it('keeps order and bounds each chunk by count', () => {
    const all = Array.from({ length: 7 }, (_, i) => msg(10, i));
    const chunks = chunkMessages(all, 3, 1_000);
    expect(chunks.map((c) => c.map((m) => m.id))).toEqual([[0, 1, 2], [3, 4, 5], [6]]);
  });

  it('bounds each chunk by summed value bytes', () => {
    const all = [msg(400, 0), msg(400, 1), msg(400, 2), msg(100, 3)];
    expect(chunkMessages(all, 100, 1_000).map((c) => c.map((m) => m.id))).toEqual([
      [0, 1],
      [2, 3],
    ]);
  });

  it('gives a message larger than the byte bound a chunk of its own instead of looping or dropping it', () => {
    const all = [msg(10, 0), msg(5_000, 1), msg(10, 2)];
    expect(chunkMessages(all, 100, 1_000).map((c) => c.map((m) => m.id))).toEqual([[0], [1], [2]]);
  });

  it('returns no chunk for no message', () => {
    expect(chunkMessages([], 10, 10)).toEqual([]);
  });
});
