import type { Readable } from 'node:stream';

/**
 * The object-store port. Adapters: S3 (lib-storage multipart Upload), filesystem (standalone:
 * temp file, fsync, atomic rename), memory (unit tests). This file imports no client library.
 */

export interface PutObjectInput {
  key: string;
  body: Readable;
  /**
   * Expected size; a stream that ends with another byte count fails and stores nothing. `undefined`: unknown (Zoom
   * sends no `file_size` for some files): the object is whatever the body delivers up to its end, and the result
   * reports the byte count received and their SHA-256.
   */
  contentLength: number | undefined;
  contentType?: string;
  /** User metadata (ASCII keys/values); the adapter adds `sha256`. */
  metadata: Record<string, string>;
  signal?: AbortSignal;
}

export interface PutObjectResult {
  bucket: string;
  key: string;
  size: number;
  etag: string;
  /** Hex SHA-256 of the bytes, computed while streaming. */
  sha256: string;
}

export interface ObjectInfo {
  key: string;
  size: number;
  etag: string;
  metadata: Record<string, string>;
  /** Hex SHA-256 the store recorded for these bytes (metadata or, on S3, the `.sha256` sidecar); absent when none. */
  sha256?: string;
}

export interface ObjectStore {
  /** Location label used in results (bucket name, or the directory for the filesystem). */
  readonly bucket: string;
  /**
   * Streams `body` to `key`. All or nothing: on any error (stream error, size mismatch, abort)
   * no object is visible and any multipart upload is aborted. `body` is always consumed or destroyed,
   * also when the call fails before reading it (so a download connection is never left open).
   */
  put(input: PutObjectInput): Promise<PutObjectResult>;
  head(key: string): Promise<ObjectInfo | null>;
  /** Incomplete multipart uploads under a prefix (always empty for the filesystem). */
  listIncompleteUploads(prefix?: string): Promise<Array<{ key: string; uploadId: string; initiated?: Date }>>;
  /**
   * Aborts every incomplete multipart upload of exactly `key` and returns how many. A pod killed mid-upload
   * cannot abort its own; the next uploader of the file (holding the file's lease) cleans up before it starts.
   */
  abortIncompleteUploads(key: string): Promise<number>;
  isReady(): Promise<boolean>;
  close(): Promise<void>;
}

export const OBJECT_STORE = Symbol('OBJECT_STORE');

/**
 * Why a store call failed, by cause (what a caller decides on): `unavailable` (network, 5xx, throttling, disk
 * full: try again later), `size_mismatch` (the body had another byte count than contentLength: another attempt
 * with the same input fails the same way), `key_rejected` / `metadata_rejected` (the input breaks a rule of the
 * store), `source_failed` (the caller's body stream failed: see `cause`), `aborted` (the caller's signal),
 * `rejected` (any other definite refusal: credentials, missing bucket).
 */
export type ObjectStoreFailure =
  'unavailable' | 'size_mismatch' | 'key_rejected' | 'metadata_rejected' | 'source_failed' | 'aborted' | 'rejected';

export class ObjectStoreError extends Error {
  readonly code = 'store_failed';
  readonly failure: ObjectStoreFailure;
  constructor(
    message: string,
    readonly retryable: boolean,
    options?: { cause?: unknown; failure?: ObjectStoreFailure },
  ) {
    super(message, options);
    this.name = 'ObjectStoreError';
    this.failure = options?.failure ?? (retryable ? 'unavailable' : 'rejected');
  }
}

const RFC2047_B = /^=\?UTF-8\?B\?([A-Za-z0-9+/=]*)\?=$/;

/**
 * User metadata travels as HTTP headers (printable ASCII). A value outside that is stored RFC 2047 encoded
 * (`=?UTF-8?B?…?=`, the form S3 itself returns for such values), so a non-ASCII Zoom file id is stored, not
 * refused. Compare stored values through {@link decodeMetadataValue}.
 */
export function encodeMetadataValue(value: string): string {
  return /^[\x20-\x7e]*$/.test(value) && !RFC2047_B.test(value)
    ? value
    : `=?UTF-8?B?${Buffer.from(value, 'utf8').toString('base64')}?=`;
}

export function decodeMetadataValue(value: string | undefined): string | undefined {
  const m = value === undefined ? null : RFC2047_B.exec(value);
  return m === null ? value : Buffer.from(m[1] ?? '', 'base64').toString('utf8');
}
