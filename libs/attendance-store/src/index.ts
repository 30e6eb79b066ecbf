export * from './attendance-store.port';
export { AttendanceStoreModule, type AttendanceStoreConfig, createAttendanceStore } from './attendance-store.module';
export { MemoryAttendanceStore } from './memory/memory-attendance-store';
export { EmbeddedAttendanceStore } from './embedded/embedded-attendance-store';
export { RedisAttendanceStore, type RedisAttendanceStoreOptions } from './redis/redis-attendance-store';
