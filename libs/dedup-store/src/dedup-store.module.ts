import { type DynamicModule, Global, Inject, Module, type OnApplicationShutdown } from '@nestjs/common';
import { createDedupStore, type DedupStoreConfig } from './dedup-store.config';
import { DEDUP_STORE, type DedupStore } from './dedup-store.port';

/**
 * Provides `DEDUP_STORE` application-wide. `forRoot` picks the adapter from config (apps decide, features
 * only inject the port). The store is closed on application shutdown, the last lifecycle phase, so
 * consumers that drain in `onModuleDestroy`/`beforeApplicationShutdown` can still use it.
 */
@Global()
@Module({})
export class DedupStoreModule implements OnApplicationShutdown {
  constructor(@Inject(DEDUP_STORE) private readonly store: DedupStore) {}

  static forRoot(config: DedupStoreConfig): DynamicModule {
    return {
      module: DedupStoreModule,
      providers: [{ provide: DEDUP_STORE, useFactory: () => createDedupStore(config) }],
      exports: [DEDUP_STORE],
    };
  }

  async onApplicationShutdown(): Promise<void> {
    await this.store.close();
  }
}
