import { FilesystemObjectStore } from './filesystem/filesystem-object-store';
import { MemoryObjectStore } from './memory/memory-object-store';
import type { ObjectStore } from './object-store.port';
import { S3ObjectStore } from './s3/s3-object-store';

/** Which adapter to run; built by the config lib from SPEC §4 (`S3_BUCKET` set = s3, else filesystem). */
export type ObjectStoreConfig =
  | {
      kind: 's3';
      bucket: string;
      endpoint?: string;
      region: string;
      forcePathStyle?: boolean;
      credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
      partSizeBytes?: number;
      queueSize?: number;
      createBucketIfMissing?: boolean;
      checksums?: 'when-supported' | 'when-required';
      uploadMode?: 'stream' | 'buffered';
      sha256Metadata?: boolean;
      /** Where an S3 user finds the SHA-256: `sidecar` (default), `metadata` (a server-side copy), `none`. */
      sha256Location?: 'sidecar' | 'metadata' | 'none';
    }
  | { kind: 'filesystem'; dir: string }
  | { kind: 'memory' };

export function createObjectStore(config: ObjectStoreConfig): ObjectStore {
  switch (config.kind) {
    case 's3': {
      const { kind: _kind, ...options } = config;
      return new S3ObjectStore(options);
    }
    case 'filesystem':
      return new FilesystemObjectStore({ dir: config.dir });
    case 'memory':
      return new MemoryObjectStore();
  }
}
