import { type DynamicModule, Global, Inject, Module, type OnApplicationShutdown } from '@nestjs/common';
import { ATTENDANCE_STORE, type AttendanceStore } from './attendance-store.port';
import { EmbeddedAttendanceStore } from './embedded/embedded-attendance-store';
import { MemoryAttendanceStore } from './memory/memory-attendance-store';
import { RedisAttendanceStore } from './redis/redis-attendance-store';

/** Same choice as the dedup store: `REDIS_URL` set = Redis, else embedded under `DATA_DIR/attendance`. */
export type AttendanceStoreConfig =
  { kind: 'redis'; url: string; keyPrefix?: string } | { kind: 'embedded'; dir: string } | { kind: 'memory' };

export async function createAttendanceStore(config: AttendanceStoreConfig): Promise<AttendanceStore> {
  switch (config.kind) {
    case 'redis':
      return new RedisAttendanceStore({ url: config.url, keyPrefix: config.keyPrefix });
    case 'embedded':
      return EmbeddedAttendanceStore.open({ dir: config.dir });
    case 'memory':
      return new MemoryAttendanceStore();
  }
}

@Global()
@Module({})
export class AttendanceStoreModule implements OnApplicationShutdown {
  constructor(@Inject(ATTENDANCE_STORE) private readonly store: AttendanceStore) {}

  static forRoot(config: AttendanceStoreConfig): DynamicModule {
    return {
      module: AttendanceStoreModule,
      providers: [{ provide: ATTENDANCE_STORE, useFactory: () => createAttendanceStore(config) }],
      exports: [ATTENDANCE_STORE],
    };
  }

  async onApplicationShutdown(): Promise<void> {
    await this.store.close();
  }
}
