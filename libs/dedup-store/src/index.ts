export * from './dedup-store.port';
export * from './dedup-store.config';
export * from './dedup-store.module';
export { RedisDedupStore, type RedisDedupStoreOptions } from './redis/redis-dedup-store';
export {
  EmbeddedDedupStore,
  EMBEDDED_LOG_FILE,
  type EmbeddedDedupStoreOptions,
  type EmbeddedDedupStoreOpenStats,
} from './embedded/embedded-dedup-store';
export { MemoryDedupStore, type MemoryDedupStoreOptions } from './memory/memory-dedup-store';
