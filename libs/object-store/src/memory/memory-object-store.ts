import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ObjectInfo, ObjectStore, PutObjectInput, PutObjectResult } from '../object-store.port';
import { ObjectStoreError } from '../object-store.port';
import { firstError, MeteredStream, putFailure } from '../internal/metered-stream';
import { assertObjectKey, checkPutInput, SHA256_METADATA, sha256Etag, SIZE_METADATA } from '../internal/put-input';

interface StoredObject {
  data: Buffer;
  etag: string;
  contentType: string;
  metadata: Record<string, string>;
}

export interface MemoryObjectStoreOptions {
  /** Label reported as `bucket` in results. Default `memory`. */
  bucket?: string;
}

/**
 * Object store for unit tests: the same all-or-nothing rules as S3 (size check, SHA-256, abort, nothing
 * visible on failure), objects kept in a Map. It buffers whole objects, so it is for tests only.
 */
export class MemoryObjectStore implements ObjectStore {
  readonly bucket: string;
  private readonly objects = new Map<string, StoredObject>();
  private closed = false;

  constructor(options: MemoryObjectStoreOptions = {}) {
    this.bucket = options.bucket ?? 'memory';
  }

  async put(input: PutObjectInput): Promise<PutObjectResult> {
    let metadata: Record<string, string>;
    try {
      this.assertOpen();
      metadata = checkPutInput(input);
    } catch (err) {
      input.body.destroy();
      throw err;
    }
    const meter = new MeteredStream(input.contentLength);
    const chunks: Buffer[] = [];
    const failed = firstError({ body: input.body, meter });
    try {
      await pipeline(
        input.body,
        meter,
        new Writable({
          write(chunk: Buffer, _encoding, callback) {
            chunks.push(chunk);
            callback();
          },
        }),
        { signal: input.signal },
      );
    } catch (err) {
      throw putFailure(err, {
        what: 'put',
        signal: input.signal,
        sourceError: failed()?.origin === 'body' ? failed()?.error : undefined,
        storageError: (e) => new ObjectStoreError('put failed in memory', true, { cause: e }),
      });
    }
    const sha256 = meter.sha256;
    const etag = sha256Etag(sha256);
    this.objects.set(input.key, {
      data: Buffer.concat(chunks),
      etag,
      contentType: input.contentType ?? 'application/octet-stream',
      metadata: { ...metadata, [SIZE_METADATA]: String(meter.bytes), [SHA256_METADATA]: sha256 },
    });
    return { bucket: this.bucket, key: input.key, size: meter.bytes, etag, sha256 };
  }

  async head(key: string): Promise<ObjectInfo | null> {
    this.assertOpen();
    assertObjectKey(key);
    const object = this.objects.get(key);
    return object
      ? {
          key,
          size: object.data.length,
          etag: object.etag,
          metadata: { ...object.metadata },
          sha256: object.metadata[SHA256_METADATA],
        }
      : null;
  }

  /** The stored bytes, for tests that check content. */
  read(key: string): Buffer | undefined {
    return this.objects.get(key)?.data;
  }

  async listIncompleteUploads(): Promise<Array<{ key: string; uploadId: string; initiated?: Date }>> {
    return [];
  }

  /** No multipart uploads here: a crashed put leaves only a temp file, never a visible object. */
  async abortIncompleteUploads(_key: string): Promise<number> {
    return 0;
  }

  async isReady(): Promise<boolean> {
    return !this.closed;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private assertOpen(): void {
    if (this.closed) {
      throw new ObjectStoreError('memory object store is closed', false);
    }
  }
}
