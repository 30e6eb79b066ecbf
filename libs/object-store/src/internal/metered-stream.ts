import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { ObjectStoreError } from '../object-store.port';

/**
 * Pass-through that counts bytes and computes SHA-256 while the object streams by, and fails the stream
 * as soon as the byte count cannot match `expected` (too many bytes: at once; too few: at the end). With
 * `expected` undefined (size unknown) it only counts and hashes.
 * It holds no data: chunks go straight through, and its small default buffer is what makes a slow
 * consumer (lib-storage, the disk) pause the source.
 */
export class MeteredStream extends Transform {
  private readonly hash: Hash = createHash('sha256');
  private count = 0;
  private digestHex: string | undefined;

  constructor(private readonly expected: number | undefined) {
    super();
  }

  get bytes(): number {
    return this.count;
  }

  /** Hex SHA-256 of everything that passed; only once the stream has finished. */
  get sha256(): string {
    if (this.digestHex === undefined) {
      throw new Error('sha256 is known only after the stream has finished');
    }
    return this.digestHex;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.count += chunk.length;
    if (this.expected !== undefined && this.count > this.expected) {
      callback(sizeMismatch(`the body is longer than contentLength (${this.expected} bytes)`));
      return;
    }
    this.hash.update(chunk);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    if (this.expected !== undefined && this.count !== this.expected) {
      callback(sizeMismatch(`the body ended after ${this.count} of ${this.expected} bytes`));
      return;
    }
    this.digestHex = this.hash.digest('hex');
    callback();
  }
}

/**
 * Permanent: the body had another byte count than the caller declared, which another attempt with the same
 * input repeats (a Zoom file_size that disagrees with the bytes served redelivered forever, issue #1). A body
 * that breaks off fails with its own error instead (`source_failed`), which the caller classifies.
 */
function sizeMismatch(message: string): ObjectStoreError {
  return new ObjectStoreError(`size mismatch: ${message}`, false, { failure: 'size_mismatch' });
}

export interface FailureContext {
  /** e.g. `put <key>` */
  what: string;
  signal?: AbortSignal;
  /** The error the caller's body stream emitted, if it did. */
  sourceError?: unknown;
  /** How the adapter describes a failure of its own storage (S3 request, disk write). */
  storageError(err: unknown): ObjectStoreError;
}

/** Maps whatever ended a failed put to the port's error: abort, size mismatch, source or storage failure. */
export function putFailure(err: unknown, context: FailureContext): ObjectStoreError {
  if (context.signal?.aborted) {
    return new ObjectStoreError(`${context.what} aborted`, true, { cause: err, failure: 'aborted' });
  }
  if (err instanceof ObjectStoreError) {
    return err;
  }
  if (context.sourceError !== undefined) {
    const source = context.sourceError;
    const label =
      (source as NodeJS.ErrnoException | undefined)?.code ?? (source instanceof Error ? source.name : 'error');
    // The source's own message is left to `cause`: it belongs to the downloader, which owns its redaction.
    // Retryable as far as the store knows; the caller classifies by `cause` (e.g. a download size mismatch).
    return new ObjectStoreError(`${context.what} failed: the body stream failed (${label})`, true, {
      cause: source,
      failure: 'source_failed',
    });
  }
  return context.storageError(err);
}

/**
 * Remembers which stream failed first. `pipeline` destroys the other streams with the same error, so
 * "which stream emitted it" is ambiguous afterwards; the first 'error' event is the origin.
 */
export function firstError(
  streams: Record<string, NodeJS.EventEmitter>,
): () => { origin: string; error: unknown } | undefined {
  let first: { origin: string; error: unknown } | undefined;
  for (const [origin, stream] of Object.entries(streams)) {
    stream.once('error', (error: unknown) => {
      first ??= { origin, error };
    });
  }
  return () => first;
}
