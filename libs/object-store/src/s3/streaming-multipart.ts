import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  type CompletedPart,
  CreateMultipartUploadCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { once } from 'node:events';
import { PassThrough, type Readable } from 'node:stream';

/** S3's limit on parts per multipart upload. */
export const MAX_PARTS = 10_000;
const MIB = 1024 * 1024;

/** The configured part size, raised (to whole MiB) when the object would need more than 10,000 parts. */
export function partSizeFor(contentLength: number, configured: number): number {
  const needed = Math.ceil(contentLength / MAX_PARTS / MIB) * MIB;
  return Math.max(configured, needed);
}

export interface StreamingMultipartInput {
  /** Create, complete and abort: small requests the SDK may retry. */
  client: S3Client;
  /**
   * UploadPart only, built with `maxAttempts: 1` (a streamed part cannot be replayed, so a failed part fails
   * the whole put, retryable, and the caller's retry downloads again) and `requestChecksumCalculation:
   * WHEN_REQUIRED`: with a stream body the SDK would send its CRC32 as an aws-chunked trailer, and S3Proxy 4.0.0
   * closed the connection mid-part (EPIPE) on 3 of 6 such uploads here. Each part's length is fixed by
   * Content-Length, TLS protects it on the way to AWS, and the SHA-256 of the whole object is computed anyway.
   */
  partClient: S3Client;
  bucket: string;
  key: string;
  contentType: string;
  metadata: Record<string, string>;
  contentLength: number;
  partSize: number;
  /** Part requests open at once (only the newest one is receiving bytes; the others await S3's answer). */
  queueSize: number;
  /** Already checked by the caller (byte count, hash); its errors end the upload. */
  body: Readable;
  /** Receives the upload id as soon as it exists, so the caller can abort it too. */
  onUploadId(uploadId: string): void;
}

/**
 * Multipart upload that streams every part straight from `body` into its UploadPart request, with the part's
 * exact length as Content-Length. Nothing is buffered beyond the streams' own high-water marks, so memory
 * does not grow with the part size or the number of parts in flight, and no byte is copied: each source chunk
 * is sliced (`subarray`) at part boundaries and written on. Compared with buffering parts (lib-storage's
 * `Upload`, `S3_UPLOAD_MODE=buffered`), the price is that the SDK cannot retry a single part; the whole put
 * fails, retryable, instead.
 *
 * All or nothing: on any failure every open part request is ended first, then the upload is aborted, then
 * the first error is thrown. Returns the ETag of the completed object.
 */
export async function streamingMultipartUpload(input: StreamingMultipartInput): Promise<string | undefined> {
  const { bucket, key, contentLength, partSize } = input;
  const created = await input.client.send(
    new CreateMultipartUploadCommand({
      Bucket: bucket,
      Key: key,
      ContentType: input.contentType,
      Metadata: input.metadata,
      // No ChecksumAlgorithm: S3 would then require a checksum on every part (see partClient).
    }),
  );
  const uploadId = created.UploadId;
  if (!uploadId) {
    throw new Error('CreateMultipartUpload answered without an UploadId');
  }
  input.onUploadId(uploadId);

  const completed: CompletedPart[] = [];
  // Ends every open part request at once on failure: a request whose body stream was destroyed would
  // otherwise wait for the server's idle timeout (30 s on S3Proxy) before it settles.
  const cancel = new AbortController();
  const open = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;
  // Settles (rejects) at the first failed part, so a writer waiting for 'drain' or for a free slot wakes up.
  let signalFailure!: (error: unknown) => void;
  const failed = new Promise<never>((_resolve, reject) => {
    signalFailure = reject;
  });
  failed.catch(() => undefined);
  // While the writer waits for a part to drain it is not reading the body, so a failing body (download error,
  // abort) must wake it here; otherwise a part S3 stopped reading would hold the upload until a timeout.
  const bodyFailed = new Promise<never>((_resolve, reject) => {
    input.body.once('error', reject);
    input.body.once('close', () => {
      if (!input.body.readableEnded) reject(new Error('the body was closed before its end'));
    });
  });
  bodyFailed.catch(() => undefined);

  let current: PassThrough | undefined;
  let left = 0;
  let offset = 0;
  let partNumber = 0;

  const startPart = async (): Promise<void> => {
    while (open.size >= input.queueSize) {
      await Promise.race([failed, bodyFailed, ...open]);
    }
    partNumber += 1;
    const number = partNumber;
    const length = Math.min(partSize, contentLength - offset);
    const body = new PassThrough({ highWaterMark: 256 * 1024 });
    // The request's promise carries the error; an 'error' event nobody listens to would crash the process.
    body.on('error', () => undefined);
    current = body;
    left = length;
    const request = input.partClient
      .send(
        new UploadPartCommand({
          Bucket: bucket,
          Key: key,
          UploadId: uploadId,
          PartNumber: number,
          ContentLength: length,
          Body: body,
        }),
        { abortSignal: cancel.signal },
      )
      .then((out) => {
        if (!out.ETag) {
          throw new Error(`part ${number} answered without an ETag`);
        }
        completed.push({ PartNumber: number, ETag: out.ETag });
      })
      .catch((error: unknown) => {
        failure ??= { error };
        body.destroy();
        signalFailure(error);
        // Stop reading the source now, also when it is stalled between chunks (the loop below would only see
        // the failure at its next chunk): the put has failed, the download must not go on.
        input.body.destroy(error instanceof Error ? error : new Error(String(error)));
      })
      .finally(() => {
        open.delete(request);
      });
    open.add(request);
  };

  try {
    for await (const data of input.body as AsyncIterable<Buffer>) {
      let chunk = data;
      while (chunk.length > 0) {
        if (failure) {
          throw failure.error;
        }
        if (!current) {
          if (offset >= contentLength) {
            // The caller's meter refuses this first; the backstop keeps a part from being 0 bytes long.
            throw new Error(`the body is longer than ${contentLength} bytes`);
          }
          await startPart();
        }
        const part = current!;
        const slice = left < chunk.length ? chunk.subarray(0, left) : chunk;
        chunk = chunk.subarray(slice.length);
        left -= slice.length;
        offset += slice.length;
        const more = part.write(slice);
        if (left === 0) {
          part.end();
          current = undefined;
        } else if (!more) {
          await Promise.race([failed, bodyFailed, once(part, 'drain')]);
        }
      }
    }
    if (offset !== contentLength) {
      // The caller's meter refuses a wrong byte count first; this is the backstop for any other body.
      throw new Error(`the body ended after ${offset} of ${contentLength} bytes`);
    }
    await Promise.all(open);
    if (failure) {
      throw failure.error;
    }
    completed.sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0));
    const done = await input.client.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: key,
        UploadId: uploadId,
        MultipartUpload: { Parts: completed },
      }),
    );
    return done.ETag;
  } catch (err) {
    // End the part being written (its request fails), let every open request settle, then abort: a part
    // that lands after AbortMultipartUpload could otherwise keep the upload's storage alive.
    current?.destroy();
    cancel.abort();
    await Promise.allSettled([...open]);
    await input.client
      .send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }))
      .catch(() => undefined);
    throw err;
  }
}
