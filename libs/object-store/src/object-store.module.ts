import { type DynamicModule, Global, Inject, Module, type OnApplicationShutdown } from '@nestjs/common';
import { createObjectStore, type ObjectStoreConfig } from './object-store.config';
import { OBJECT_STORE, type ObjectStore } from './object-store.port';

/**
 * Provides `OBJECT_STORE` application-wide; `forRoot` picks the adapter from config. Closed on application
 * shutdown, after the uploader has drained in its own earlier lifecycle hooks.
 */
@Global()
@Module({})
export class ObjectStoreModule implements OnApplicationShutdown {
  constructor(@Inject(OBJECT_STORE) private readonly store: ObjectStore) {}

  static forRoot(config: ObjectStoreConfig): DynamicModule {
    return {
      module: ObjectStoreModule,
      providers: [{ provide: OBJECT_STORE, useFactory: () => createObjectStore(config) }],
      exports: [OBJECT_STORE],
    };
  }

  async onApplicationShutdown(): Promise<void> {
    await this.store.close();
  }
}
