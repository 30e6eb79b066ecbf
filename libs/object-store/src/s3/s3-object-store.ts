import {
  AbortMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { pipeline } from 'node:stream/promises';
import type { ObjectInfo, ObjectStore, PutObjectInput, PutObjectResult } from '../object-store.port';
import { ObjectStoreError, decodeMetadataValue, encodeMetadataValue } from '../object-store.port';
import { firstError, MeteredStream, putFailure } from '../internal/metered-stream';
import { assertObjectKey, checkPutInput, SHA256_METADATA, SIZE_METADATA } from '../internal/put-input';
import { partSizeFor, streamingMultipartUpload } from './streaming-multipart';

export interface S3ObjectStoreOptions {
  bucket: string;
  /** S3-compatible endpoint (S3Proxy, MinIO, ...); unset = AWS. */
  endpoint?: string;
  region: string;
  /** Path-style URLs (`endpoint/bucket/key`), needed by most S3-compatible servers. */
  forcePathStyle?: boolean;
  /** Static credentials; unset = the SDK's default provider chain (env, profile, IRSA, instance role). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /**
   * Multipart part size. Default 16 MiB, minimum 5 MiB (S3's limit); raised for an object that would need more
   * than 10,000 parts. Objects up to one part are sent with one PutObject after being read whole.
   */
  partSizeBytes?: number;
  /** Part requests open at once per object. Default 4. */
  queueSize?: number;
  /**
   * `stream` (default): each part streams from the download straight into its UploadPart request; memory per
   * upload is a few hundred KiB whatever the part size, but a failed part fails the whole put (retryable).
   * `buffered`: lib-storage's `Upload` holds each part in memory (about partSize x (queueSize + 1) per upload)
   * so the SDK can retry a single part; for links to S3 that drop requests often.
   */
  uploadMode?: 'stream' | 'buffered';
  /**
   * Where an S3 user finds the object's SHA-256 (it is always in the put result, and so in
   * `zoom.recording.uploaded`). S3 fixes metadata when the upload starts, before the hash is known.
   * - `sidecar` (default): a small object `<key>.sha256` (`<hex>  <file name>`, the `sha256sum` format, so
   *   `sha256sum -c` checks a downloaded copy), written after the upload and tied to the object by its ETag
   *   (`zoom-object-etag` metadata). One small PUT: the object is never rewritten. Works on any S3-compatible
   *   server (S3Proxy 4.0.0 answers 501 to object tagging, so tags are not an option there).
   * - `metadata`: a server-side CopyObject onto the same key adds `sha256` to the metadata: the server rewrites the
   *   whole object (and a versioned bucket keeps a second version); objects over 5 GiB never get it.
   * - `none`: only in the put result.
   */
  sha256Location?: Sha256Location;
  /** Deprecated alias: true = `sha256Location: 'metadata'`, false = `'none'`. */
  sha256Metadata?: boolean;
  /** Create the bucket on first use when it does not exist (tests, first deployment). Default false. */
  createBucketIfMissing?: boolean;
  /**
   * Request checksums. `when-supported` (the SDK default) sends CRC32 in aws-chunked trailers;
   * `when-required` is for servers that reject those (aws-sdk-js-v3#6810). S3Proxy 4 accepts the default.
   */
  checksums?: 'when-supported' | 'when-required';
  /** Attempts per request, including the first; the SDK retries 5xx, throttling and network errors. Default 3. */
  maxAttempts?: number;
}

const MIB = 1024 * 1024;
const MIN_PART_SIZE = 5 * MIB;
/**
 * For the part client: without a logger the SDK writes "An error was encountered in a non-retryable streaming
 * request." to the console on every failed part; the put's own error (retryable) already says what failed.
 */
const SILENT_SDK_LOGGER = {
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};
/** Largest object CopyObject can copy in one request; see `put` for what happens above it. */
const MAX_COPY_BYTES = 5 * 1024 * MIB;
/** The sidecar holding an object's SHA-256 (`sha256Location: 'sidecar'`) is the object's key plus this. */
export const SHA256_SIDECAR_SUFFIX = '.sha256';
/** Sidecar metadata: the ETag of the object the hash was computed for (a stale sidecar is ignored). */
const SIDECAR_ETAG_METADATA = 'zoom-object-etag';

export type Sha256Location = 'sidecar' | 'metadata' | 'none';

/**
 * Object store on S3 (cluster mode, or standalone with `S3_BUCKET`).
 *
 * `put` streams the body through a `MeteredStream` (byte count + SHA-256). In the default `stream` mode each
 * multipart part is streamed from it straight into its UploadPart request (`streaming-multipart.ts`): memory
 * per upload is the streams' high-water marks, whatever the part or object size (SPEC invariant 5). In
 * `buffered` mode lib-storage's `Upload` pulls parts from it into memory, partSize x (queueSize + 1), so the SDK
 * can retry one part. Nothing reads ahead of the uploader in either mode.
 *
 * All or nothing: a short or long body, a failing source or an abort destroys the metered stream; the upload
 * code then aborts the multipart upload itself (lib-storage: leavePartsOnError false) before it rejects, and we
 * send AbortMultipartUpload once more in case its own attempt failed. Small objects (one part) are sent with a
 * single PutObject only after the whole body has been read and checked, so they are never partial either.
 */
export class S3ObjectStore implements ObjectStore {
  readonly bucket: string;
  private readonly client: S3Client;
  private readonly partSize: number;
  private readonly queueSize: number;
  private readonly uploadMode: 'stream' | 'buffered';
  private readonly sha256Location: Sha256Location;
  private readonly partClient: S3Client;
  private readonly createBucketIfMissing: boolean;
  private bucketChecked: Promise<void> | undefined;

  constructor(options: S3ObjectStoreOptions) {
    if (typeof options.bucket !== 'string' || options.bucket.length === 0) {
      throw new ObjectStoreError('S3 object store needs a bucket', false);
    }
    this.bucket = options.bucket;
    this.partSize = options.partSizeBytes ?? 16 * MIB;
    this.queueSize = options.queueSize ?? 4;
    if (!Number.isSafeInteger(this.partSize) || this.partSize < MIN_PART_SIZE) {
      throw new ObjectStoreError(`partSizeBytes must be an integer of at least ${MIN_PART_SIZE} (5 MiB)`, false);
    }
    if (!Number.isSafeInteger(this.queueSize) || this.queueSize < 1) {
      throw new ObjectStoreError('queueSize must be a positive integer', false);
    }
    this.uploadMode = options.uploadMode ?? 'stream';
    if (this.uploadMode !== 'stream' && this.uploadMode !== 'buffered') {
      throw new ObjectStoreError("uploadMode must be 'stream' or 'buffered'", false);
    }
    this.sha256Location =
      options.sha256Location ??
      (options.sha256Metadata === undefined ? 'sidecar' : options.sha256Metadata ? 'metadata' : 'none');
    if (!['sidecar', 'metadata', 'none'].includes(this.sha256Location)) {
      throw new ObjectStoreError("sha256Location must be 'sidecar', 'metadata' or 'none'", false);
    }
    this.createBucketIfMissing = options.createBucketIfMissing ?? false;
    const checksum = options.checksums === 'when-required' ? 'WHEN_REQUIRED' : 'WHEN_SUPPORTED';
    const config: S3ClientConfig = {
      region: options.region,
      endpoint: options.endpoint,
      forcePathStyle: options.forcePathStyle,
      credentials: options.credentials,
      maxAttempts: options.maxAttempts ?? 3,
      requestChecksumCalculation: checksum,
      responseChecksumValidation: checksum,
      // Without timeouts a dead connection would hold a part (and the abort cleanup) forever.
      // requestTimeout is per socket inactivity, not per request, so slow large parts are fine.
      requestHandler: { connectionTimeout: 10_000, requestTimeout: 120_000 },
    };
    this.client = new S3Client(config);
    // A streamed part's body cannot be replayed, and is sent without an aws-chunked checksum trailer
    // (see streaming-multipart.ts): the SDK must neither retry it nor add the trailer.
    this.partClient = new S3Client({
      ...config,
      maxAttempts: 1,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      logger: SILENT_SDK_LOGGER,
    });
  }

  async put(input: PutObjectInput): Promise<PutObjectResult> {
    let userMetadata: Record<string, string>;
    try {
      userMetadata = checkPutInput(input);
      if (this.sha256Location === 'sidecar') assertObjectKey(`${input.key}${SHA256_SIDECAR_SUFFIX}`);
      await this.ensureBucket();
    } catch (err) {
      input.body.destroy();
      throw err;
    }

    const meter = new MeteredStream(input.contentLength);
    const failed = firstError({ body: input.body, meter });
    // pipeline() forwards source errors into the meter (and from there into lib-storage's reader) and
    // destroys the source when the meter fails, which releases the download connection.
    const piping = pipeline(input.body, meter).catch(() => undefined);
    // An abort destroys the meter. We deliberately do not call upload.abort(): it makes done() reject at
    // once, while parts are still in flight and before AbortMultipartUpload was sent. Failing the stream
    // instead lets lib-storage finish its in-flight parts, abort the multipart upload, and only then reject.
    // An abort that arrives after the whole body was read and checked no longer stops the upload: the
    // object is then complete and correct, and put resolves with it.
    const onAbort = (): void => {
      meter.destroy(new ObjectStoreError('put aborted', true));
    };
    input.signal?.addEventListener('abort', onAbort, { once: true });

    const contentType = input.contentType ?? 'application/octet-stream';
    const known = input.contentLength;
    // A size we do not know yet cannot go into the metadata fixed at the start (the result and the sidecar have it).
    const metadata = known === undefined ? { ...userMetadata } : { ...userMetadata, [SIZE_METADATA]: String(known) };
    // Unknown size: the configured part size, so up to 10,000 parts (160 GiB at 16 MiB).
    const partSize = partSizeFor(known ?? 0, this.partSize);
    let uploadId: string | undefined;
    let uploadedEtag: string | undefined;
    try {
      if (this.uploadMode === 'stream' && known !== undefined && known > partSize) {
        uploadedEtag = await streamingMultipartUpload({
          client: this.client,
          partClient: this.partClient,
          bucket: this.bucket,
          key: input.key,
          contentType,
          metadata,
          contentLength: known,
          partSize,
          queueSize: this.queueSize,
          body: meter,
          onUploadId: (id) => (uploadId = id),
        });
      } else {
        // One part (either mode), buffered mode, or a body of unknown size (either mode: a streamed part needs its
        // length before its first byte): lib-storage reads each part into memory, then sends it (one PutObject
        // when the whole body fits in a part, so a small object is never partial either). Without ContentLength
        // it cuts parts of partSize until the body ends.
        const upload = new Upload({
          client: this.client,
          partSize,
          queueSize: this.queueSize,
          leavePartsOnError: false,
          params: {
            Bucket: this.bucket,
            Key: input.key,
            Body: meter,
            ContentLength: input.contentLength,
            ContentType: contentType,
            Metadata: metadata,
          },
        });
        try {
          uploadedEtag = (await upload.done()).ETag;
        } finally {
          uploadId = upload.uploadId;
        }
      }
    } catch (err) {
      // Read the origin before tearing the streams down ourselves (that would add errors of its own).
      const origin = failed();
      // An S3 failure leaves the body half read: destroy it, which also ends `piping` below.
      meter.destroy();
      await this.abortMultipart(input.key, uploadId);
      throw putFailure(err, {
        what: `put ${input.key}`,
        signal: input.signal,
        sourceError: origin?.origin === 'body' ? origin.error : undefined,
        storageError: (e) => s3Error(`put ${input.key}`, e),
      });
    } finally {
      input.signal?.removeEventListener('abort', onAbort);
      await piping;
    }

    const size = meter.bytes;
    const sha256 = meter.sha256;
    let etag = uploadedEtag ?? '';
    if (this.sha256Location === 'sidecar') {
      try {
        await this.client.send(
          new PutObjectCommand({
            Bucket: this.bucket,
            Key: `${input.key}${SHA256_SIDECAR_SUFFIX}`,
            Body: `${sha256}  ${input.key.slice(input.key.lastIndexOf('/') + 1)}\n`,
            ContentType: 'text/plain; charset=utf-8',
            Metadata: { [SIDECAR_ETAG_METADATA]: encodeMetadataValue(etag) },
          }),
        );
      } catch (err) {
        // An object without its visible hash would break the contract; remove it so the retry starts clean.
        await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: input.key })).catch(() => undefined);
        throw s3Error(`put ${input.key} (sha256 sidecar)`, err);
      }
    }
    // S3 fixes metadata at CreateMultipartUpload, before the SHA-256 is known. A server-side copy onto the
    // same key replaces the metadata without moving bytes through us. CopyObject is limited to 5 GiB;
    // larger objects keep their metadata without sha256 (the upload result event still carries it).
    if (this.sha256Location === 'metadata' && size <= MAX_COPY_BYTES) {
      try {
        const copied = await this.client.send(
          new CopyObjectCommand({
            Bucket: this.bucket,
            Key: input.key,
            CopySource: copySource(this.bucket, input.key),
            // Only the bytes we just wrote: never stamp our hash on an object someone replaced meanwhile.
            CopySourceIfMatch: uploadedEtag,
            MetadataDirective: 'REPLACE',
            ContentType: contentType,
            Metadata: { ...userMetadata, [SIZE_METADATA]: String(size), [SHA256_METADATA]: sha256 },
          }),
        );
        etag = copied.CopyObjectResult?.ETag ?? etag;
      } catch (err) {
        // An object without its sha256 would break the contract; remove it so the retry starts clean.
        await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: input.key })).catch(() => undefined);
        throw s3Error(`put ${input.key} (metadata copy)`, err);
      }
    }
    return { bucket: this.bucket, key: input.key, size, etag, sha256 };
  }

  async head(key: string): Promise<ObjectInfo | null> {
    assertObjectKey(key);
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      const info: ObjectInfo = {
        key,
        size: out.ContentLength ?? 0,
        etag: out.ETag ?? '',
        metadata: out.Metadata ?? {},
      };
      const sha256 =
        info.metadata[SHA256_METADATA] ??
        (this.sha256Location === 'sidecar' ? await this.sidecarSha256(key, info.etag) : undefined);
      if (sha256 !== undefined) info.sha256 = sha256;
      return info;
    } catch (err) {
      if (httpStatus(err) === 404) {
        return null;
      }
      throw s3Error(`head ${key}`, err);
    }
  }

  /** The SHA-256 in `<key>.sha256` when that sidecar was written for the object with this ETag; else undefined. */
  private async sidecarSha256(key: string, etag: string): Promise<string | undefined> {
    try {
      const out = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: `${key}${SHA256_SIDECAR_SUFFIX}` }),
      );
      const text = (await out.Body?.transformToString('utf8')) ?? '';
      const hex = /^([0-9a-f]{64}) {2}/.exec(text)?.[1];
      return hex !== undefined && decodeMetadataValue(out.Metadata?.[SIDECAR_ETAG_METADATA]) === etag ? hex : undefined;
    } catch (err) {
      if (httpStatus(err) === 404) return undefined;
      throw err;
    }
  }

  async listIncompleteUploads(prefix?: string): Promise<Array<{ key: string; uploadId: string; initiated?: Date }>> {
    const uploads: Array<{ key: string; uploadId: string; initiated?: Date }> = [];
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    try {
      for (;;) {
        const page = await this.client.send(
          new ListMultipartUploadsCommand({
            Bucket: this.bucket,
            Prefix: prefix,
            KeyMarker: keyMarker,
            UploadIdMarker: uploadIdMarker,
          }),
        );
        for (const u of page.Uploads ?? []) {
          if (u.Key && u.UploadId) {
            uploads.push({ key: u.Key, uploadId: u.UploadId, initiated: u.Initiated });
          }
        }
        if (!page.IsTruncated) {
          return uploads;
        }
        keyMarker = page.NextKeyMarker;
        uploadIdMarker = page.NextUploadIdMarker;
      }
    } catch (err) {
      throw s3Error('list multipart uploads', err);
    }
  }

  async abortIncompleteUploads(key: string): Promise<number> {
    await this.ensureBucket();
    const stale = (await this.listIncompleteUploads(key)).filter((u) => u.key === key);
    for (const u of stale) await this.abortMultipart(u.key, u.uploadId);
    return stale.length;
  }

  /** HeadBucket: reachable, credentials accepted, bucket present. Never throws. */
  async isReady(): Promise<boolean> {
    try {
      // With createBucketIfMissing the bucket appears on first use; create it here so readiness does not
      // wait for a first upload that only a ready pod would get.
      await this.ensureBucket();
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
    this.partClient.destroy();
  }

  /** Once per instance when `createBucketIfMissing`; a failure is retried by the next put. */
  private ensureBucket(): Promise<void> {
    if (!this.createBucketIfMissing) {
      return Promise.resolve();
    }
    this.bucketChecked ??= (async () => {
      try {
        await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
        return;
      } catch (err) {
        if (httpStatus(err) !== 404) {
          throw s3Error('head bucket', err);
        }
      }
      try {
        await this.client.send(new CreateBucketCommand({ Bucket: this.bucket }));
      } catch (err) {
        const name = (err as Error).name;
        if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') {
          throw s3Error('create bucket', err);
        }
      }
    })().catch((err: unknown) => {
      this.bucketChecked = undefined;
      throw err;
    });
    return this.bucketChecked;
  }

  /** Backstop behind lib-storage's own abort; NoSuchUpload (already aborted) is the expected answer. */
  private async abortMultipart(key: string, uploadId: string | undefined): Promise<void> {
    if (!uploadId) {
      return;
    }
    await this.client
      .send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId }))
      .catch(() => undefined);
  }
}

/** `bucket/key` with each key segment URL-encoded, as CopySource requires (unicode, spaces, `+`, `&`). */
function copySource(bucket: string, key: string): string {
  return `${encodeURIComponent(bucket)}/${key.split('/').map(encodeURIComponent).join('/')}`;
}

function httpStatus(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
}

/**
 * Retryable unless S3 answered a definite client error (403 credentials, 404 bucket, 400 request):
 * network errors, timeouts, 5xx and throttling (429/503 SlowDown) may pass. SDK messages carry no
 * credentials (requests are signed, the secret is never sent), so they are kept.
 */
function s3Error(what: string, err: unknown): ObjectStoreError {
  if (err instanceof ObjectStoreError) {
    return err;
  }
  const status = httpStatus(err);
  const name = err instanceof Error ? err.name : 'Error';
  const message = err instanceof Error ? err.message : String(err);
  const retryable = status === undefined || status >= 500 || status === 408 || status === 429;
  const failure =
    name === 'KeyTooLongError'
      ? 'key_rejected'
      : name === 'MetadataTooLarge'
        ? 'metadata_rejected'
        : retryable
          ? 'unavailable'
          : 'rejected';
  return new ObjectStoreError(`s3 ${what} failed: ${name}${status ? ` (HTTP ${status})` : ''}: ${message}`, retryable, {
    cause: err,
    failure,
  });
}
