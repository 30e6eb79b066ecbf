import type { DedupStore } from './dedup-store.port';
import { EmbeddedDedupStore } from './embedded/embedded-dedup-store';
import { MemoryDedupStore } from './memory/memory-dedup-store';
import { RedisDedupStore } from './redis/redis-dedup-store';

/** Which adapter to run; built by the config lib from SPEC §4 (`REDIS_URL` set = redis, else embedded). */
export type DedupStoreConfig =
  | { kind: 'redis'; url: string; keyPrefix?: string; connectTimeoutMs?: number; commandTimeoutMs?: number }
  | { kind: 'embedded'; dir: string }
  | { kind: 'memory' };

/**
 * Builds the configured adapter. The embedded store is opened (its log replayed) before this resolves,
 * so an unreadable data directory fails start-up rather than the first delivery.
 */
export async function createDedupStore(config: DedupStoreConfig): Promise<DedupStore> {
  switch (config.kind) {
    case 'redis':
      return new RedisDedupStore({
        url: config.url,
        keyPrefix: config.keyPrefix,
        connectTimeoutMs: config.connectTimeoutMs,
        commandTimeoutMs: config.commandTimeoutMs,
      });
    case 'embedded':
      return EmbeddedDedupStore.open({ dir: config.dir });
    case 'memory':
      return new MemoryDedupStore();
  }
}
