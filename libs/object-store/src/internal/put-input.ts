import type { PutObjectInput } from '../object-store.port';
import { ObjectStoreError } from '../object-store.port';

// Input rules shared by every adapter, so a key or metadata that S3 would refuse (or the filesystem could
// not hold safely) fails the same way in unit tests. Messages name the rule, not the value.

/** S3's limit on key length, in UTF-8 bytes. */
const MAX_KEY_BYTES = 1024;

/** Metadata the adapters write themselves; callers cannot set them. */
export const SHA256_METADATA = 'sha256';
export const SIZE_METADATA = 'zoom-size';

export function assertObjectKey(key: string): void {
  if (typeof key !== 'string' || key.length === 0) {
    throw new ObjectStoreError('invalid object key: empty', false, { failure: 'key_rejected' });
  }
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) {
    throw new ObjectStoreError(`invalid object key: longer than ${MAX_KEY_BYTES} bytes`, false, {
      failure: 'key_rejected',
    });
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(key)) {
    throw new ObjectStoreError('invalid object key: control character', false, { failure: 'key_rejected' });
  }
  if (key.startsWith('/')) {
    throw new ObjectStoreError('invalid object key: absolute path', false, { failure: 'key_rejected' });
  }
  for (const segment of key.split('/')) {
    if (segment === '' || segment === '.' || segment === '..') {
      throw new ObjectStoreError('invalid object key: empty, "." or ".." segment', false, { failure: 'key_rejected' });
    }
  }
}

/**
 * User metadata as S3 stores it: lower-case keys (S3 lower-cases them anyway; doing it everywhere keeps
 * `head` identical across adapters), printable ASCII values (they travel as HTTP headers).
 */
export function normaliseMetadata(metadata: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [rawKey, value] of Object.entries(metadata ?? {})) {
    const key = rawKey.toLowerCase();
    if (!/^[a-z0-9][a-z0-9_.-]*$/.test(key)) {
      throw new ObjectStoreError('invalid metadata key: use letters, digits, "-", "_" or "."', false, {
        failure: 'metadata_rejected',
      });
    }
    if (key === SHA256_METADATA || key === SIZE_METADATA) {
      throw new ObjectStoreError(`invalid metadata key: "${key}" is set by the object store`, false, {
        failure: 'metadata_rejected',
      });
    }
    if (typeof value !== 'string' || !/^[\x20-\x7e]*$/.test(value)) {
      throw new ObjectStoreError(`invalid metadata value for "${key}": printable ASCII only`, false, {
        failure: 'metadata_rejected',
      });
    }
    out[key] = value;
  }
  return out;
}

export function assertContentLength(contentLength: number | undefined): void {
  if (contentLength !== undefined && (!Number.isSafeInteger(contentLength) || contentLength < 0)) {
    throw new ObjectStoreError(
      'invalid contentLength: a non-negative integer (or undefined for unknown) is required',
      false,
    );
  }
}

/** Checks everything that can be checked before a byte is read; returns the normalised metadata. */
export function checkPutInput(input: PutObjectInput): Record<string, string> {
  assertObjectKey(input.key);
  assertContentLength(input.contentLength);
  const metadata = normaliseMetadata(input.metadata);
  if (input.signal?.aborted) {
    throw new ObjectStoreError('upload aborted before it started', true, { failure: 'aborted' });
  }
  return metadata;
}

/** The etag the non-S3 adapters report: a quoted hex string derived from the SHA-256, like S3's quoted MD5. */
export function sha256Etag(sha256: string): string {
  return `"${sha256.slice(0, 32)}"`;
}
