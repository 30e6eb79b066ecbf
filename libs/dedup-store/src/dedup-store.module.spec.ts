import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Test } from '@nestjs/testing';
import { createDedupStore } from './dedup-store.config';
import { DedupStoreModule } from './dedup-store.module';
import { DEDUP_STORE, type DedupStore } from './dedup-store.port';
import { EmbeddedDedupStore } from './embedded/embedded-dedup-store';
import { MemoryDedupStore } from './memory/memory-dedup-store';

describe('DedupStoreModule', () => {
  it('provides DEDUP_STORE from config and closes it on application shutdown', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [DedupStoreModule.forRoot({ kind: 'memory' })],
    }).compile();
    await moduleRef.init();
    const store = moduleRef.get<DedupStore>(DEDUP_STORE);
    expect(store).toBeInstanceOf(MemoryDedupStore);
    expect(await store.isReady()).toBe(true);

    await moduleRef.close();

    expect(await store.isReady()).toBe(false);
  });
});

describe('createDedupStore', () => {
  it('opens the embedded store before resolving (a bad data dir fails start-up)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'zp-dedup-factory-'));
    try {
      const store = await createDedupStore({ kind: 'embedded', dir });
      expect(store).toBeInstanceOf(EmbeddedDedupStore);
      expect((store as EmbeddedDedupStore).openStats).toBeDefined();
      await store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
