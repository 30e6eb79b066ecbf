import { describeDedupStoreContract } from '../testing';
import { DedupStoreUnavailableError } from '../dedup-store.port';
import { MemoryDedupStore } from './memory-dedup-store';

let clock = Date.UTC(2026, 0, 1);
let shared: MemoryDedupStore | undefined;

describeDedupStoreContract('memory', {
  create: async () => (shared ??= new MemoryDedupStore({ now: () => clock })),
  advance: (ms) => {
    clock += ms;
  },
});

describe('MemoryDedupStore', () => {
  it('refuses calls after close, like a closed Redis connection', async () => {
    const store = new MemoryDedupStore();
    await store.close();

    await expect(store.claimMany([{ key: 'k', owner: 'o', ttlMs: 1000 }])).rejects.toBeInstanceOf(
      DedupStoreUnavailableError,
    );
    expect(await store.isReady()).toBe(false);
  });
});
