export * from './object-store.port';
export * from './object-store.config';
export * from './object-store.module';
export {
  S3ObjectStore,
  type S3ObjectStoreOptions,
  SHA256_SIDECAR_SUFFIX,
  type Sha256Location,
} from './s3/s3-object-store';
export { FilesystemObjectStore, type FilesystemObjectStoreOptions } from './filesystem/filesystem-object-store';
export { MemoryObjectStore, type MemoryObjectStoreOptions } from './memory/memory-object-store';
