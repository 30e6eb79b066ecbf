export * from './accounts-store.port';
export * from './accounts-store.module';
export * from './linked-accounts';
export * from './token-cipher';
export * from './zoom-oauth-client';
export { RedisAccountsStore, type RedisAccountsStoreOptions } from './redis/redis-accounts-store';
export { EmbeddedAccountsStore, EMBEDDED_ACCOUNTS_FILE } from './embedded/embedded-accounts-store';
export { MemoryAccountsStore } from './memory/memory-accounts-store';
