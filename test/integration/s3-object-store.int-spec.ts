// ObjectStore contract against the real S3-compatible server (S3Proxy) started by scripts/infra.sh, plus
// what only S3 can show: bounded memory on a large streamed object, and no multipart upload left open.
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { setTimeout as sleep } from 'node:timers/promises';
import { ObjectStoreError, S3ObjectStore, type S3ObjectStoreOptions } from '@zoom-pipeline/object-store';
import { describeObjectStoreContract, testBody } from '@zoom-pipeline/object-store/testing';
import { loadEndpoints, removeBucket, uniqueName } from '@zoom-pipeline/test-support';

jest.setTimeout(120_000);

const { s3 } = loadEndpoints();
const bucket = uniqueName('object-store-int');
const MIB = 1024 * 1024;

function options(extra: Partial<S3ObjectStoreOptions> = {}): S3ObjectStoreOptions {
  return {
    bucket,
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: s3.forcePathStyle,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    partSizeBytes: 5 * MIB,
    queueSize: 2,
    createBucketIfMissing: true,
    ...extra,
  };
}

/** A plain SDK client, to look at the bucket without going through the adapter under test. */
const raw = new S3Client({
  endpoint: s3.endpoint,
  region: s3.region,
  forcePathStyle: s3.forcePathStyle,
  credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
});

afterAll(async () => {
  // Empty and drop the bucket: a 100 MiB object per run would otherwise pile up in S3Proxy's data dir.
  raw.destroy();
  await removeBucket(bucket);
});

// Both upload modes honour the whole contract: `stream` (parts streamed into their requests, the default)
// and `buffered` (lib-storage's Upload holding each part in memory).
describeObjectStoreContract('s3 (S3Proxy), upload mode stream', {
  create: async () => new S3ObjectStore(options({ uploadMode: 'stream' })),
});
describeObjectStoreContract('s3 (S3Proxy), upload mode buffered', {
  create: async () => new S3ObjectStore(options({ uploadMode: 'buffered' })),
});

describe('S3ObjectStore (S3 only)', () => {
  const stores: S3ObjectStore[] = [];
  const make = (extra: Partial<S3ObjectStoreOptions> = {}): S3ObjectStore => {
    const store = new S3ObjectStore(options(extra));
    stores.push(store);
    return store;
  };
  afterAll(async () => {
    await Promise.all(stores.map((store) => store.close()));
  });

  async function openUploads(prefix: string): Promise<number> {
    const out = await raw.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix }));
    return out.Uploads?.length ?? 0;
  }

  it.each([
    // stream: a part is never held in memory, so growth is socket and stream buffers plus GC lag (~1-35 MiB
    // measured); buffered: partSize x (queueSize + 1) = 15 MiB of parts plus buffer copies and GC lag.
    { uploadMode: 'stream' as const, boundMiB: 64 },
    { uploadMode: 'buffered' as const, boundMiB: 120 },
  ])('streams 100 MiB with 5 MiB parts x 2 in bounded memory ($uploadMode)', async ({ uploadMode, boundMiB }) => {
    const store = make({ partSizeBytes: 5 * MIB, queueSize: 2, uploadMode });
    const size = 100 * MIB;
    const key = `big-${uploadMode}-${Date.now()}/recording.mp4`;
    const body = testBody(size);
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 50);
    const started = Date.now();
    let result;
    try {
      result = await store.put({ key, body: body.stream, contentLength: size, contentType: 'video/mp4', metadata: {} });
    } finally {
      clearInterval(sampler);
    }
    const seconds = (Date.now() - started) / 1000;
    const growthMiB = (peak - baseline) / MIB;
    console.log(
      `[s3 memory] ${uploadMode}, 100 MiB, part 5 MiB x queue 2: RSS growth ${growthMiB.toFixed(1)} MiB ` +
        `(baseline ${(baseline / MIB).toFixed(0)} MiB, peak ${(peak / MIB).toFixed(0)} MiB), ` +
        `${seconds.toFixed(1)} s = ${(100 / seconds).toFixed(1)} MiB/s`,
    );

    expect(result.sha256).toBe(body.sha256());
    expect(await store.head(key)).toMatchObject({
      size,
      sha256: body.sha256(),
      metadata: { 'zoom-size': String(size) },
    });
    expect(growthMiB).toBeLessThan(boundMiB);
  });

  it('by default writes the SHA-256 to a <key>.sha256 sidecar (sha256sum format), object untouched', async () => {
    const store = make();
    const key = `sidecar-${Date.now()}/Réunion recording.mp4`;
    const body = testBody(12 * MIB);

    const result = await store.put({
      key,
      body: body.stream,
      contentLength: 12 * MIB,
      metadata: { 'zoom-file-id': 'f-1' },
    });

    expect(result.sha256).toBe(body.sha256());
    const head = await store.head(key);
    expect(head).toMatchObject({
      size: 12 * MIB,
      etag: result.etag,
      sha256: body.sha256(),
      metadata: { 'zoom-file-id': 'f-1', 'zoom-size': String(12 * MIB) },
    });
    expect(head?.metadata).not.toHaveProperty('sha256');
    // Still the multipart upload's own ETag (`"…-3"`): no server-side copy rewrote it.
    expect((await raw.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).ETag).toMatch(/-3"$/);
    const sidecar = await raw.send(new GetObjectCommand({ Bucket: bucket, Key: `${key}.sha256` }));
    expect(await sidecar.Body?.transformToString('utf8')).toBe(`${body.sha256()}  Réunion recording.mp4\n`);

    // A sidecar left from other bytes at the key is not taken for this object's hash.
    await raw.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'replaced by someone else' }));
    expect((await store.head(key))?.sha256).toBeUndefined();
  });

  it(
    'puts the SHA-256 into the metadata with sha256Location "metadata" (a server-side copy), and nowhere with ' +
      '"none"',
    async () => {
      const copy = make({ sha256Location: 'metadata' });
      const none = make({ sha256Location: 'none' });
      const stamp = Date.now();
      const a = testBody(12 * MIB);
      const b = testBody(12 * MIB);

      const ra = await copy.put({ key: `copy-${stamp}/a.mp4`, body: a.stream, contentLength: 12 * MIB, metadata: {} });
      const rb = await none.put({ key: `none-${stamp}/b.mp4`, body: b.stream, contentLength: 12 * MIB, metadata: {} });

      expect([ra.sha256, rb.sha256]).toEqual([a.sha256(), b.sha256()]);
      expect(await copy.head(`copy-${stamp}/a.mp4`)).toMatchObject({
        sha256: a.sha256(),
        metadata: { sha256: a.sha256() },
      });
      const headB = await none.head(`none-${stamp}/b.mp4`);
      expect(headB?.sha256).toBeUndefined();
      expect(headB?.metadata).not.toHaveProperty('sha256');
      await expect(
        raw.send(new HeadObjectCommand({ Bucket: bucket, Key: `none-${stamp}/b.mp4.sha256` })),
      ).rejects.toMatchObject({ $metadata: { httpStatusCode: 404 } });
    },
  );

  it.each(['stream', 'buffered'] as const)(
    'leaves no multipart upload open when a large upload is killed midway by its abort signal (%s)',
    async (uploadMode) => {
      const store = make({ uploadMode });
      const prefix = `abort-${uploadMode}-${Date.now()}/`;
      const key = `${prefix}recording.mp4`;
      const controller = new AbortController();
      // The download stalls after 17 MiB: parts are uploaded and the multipart upload is open on the server.
      const body = testBody(40 * MIB, { stallAfterBytes: 17 * MIB });

      const put = store.put({
        key,
        body: body.stream,
        contentLength: 40 * MIB,
        metadata: {},
        signal: controller.signal,
      });
      const deadline = Date.now() + 10_000;
      while ((await openUploads(prefix)) === 0 && Date.now() < deadline) {
        await sleep(20);
      }
      expect(await openUploads(prefix)).toBe(1);
      controller.abort();

      await expect(put).rejects.toMatchObject({ name: 'ObjectStoreError', retryable: true });
      expect(await openUploads(prefix)).toBe(0);
      expect(await store.listIncompleteUploads(prefix)).toEqual([]);
      expect(await store.head(key)).toBeNull();
    },
  );

  it('works with checksums "when-required" too (for servers that refuse aws-chunked trailers)', async () => {
    const store = make({ checksums: 'when-required' });
    const body = testBody(12 * MIB);

    const result = await store.put({
      key: `when-required-${Date.now()}.bin`,
      body: body.stream,
      contentLength: 12 * MIB,
      metadata: {},
    });

    expect(result.sha256).toBe(body.sha256());
  });

  it('reports a missing bucket as not ready and as a permanent put failure', async () => {
    const store = make({ bucket: uniqueName('no-such-bucket'), createBucketIfMissing: false });

    expect(await store.isReady()).toBe(false);
    await expect(
      store.put({ key: 'a.txt', body: testBody(10).stream, contentLength: 10, metadata: {} }),
    ).rejects.toMatchObject({
      name: 'ObjectStoreError',
      retryable: false,
    });
  });

  it('fails permanently when S3 refuses the credentials, releases the body and never shows the secret', async () => {
    const store = make({
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: 'wrong-secret-value-123' },
      createBucketIfMissing: false,
    });
    const body = testBody(20 * MIB);

    const error = (await store
      .put({ key: 'denied.mp4', body: body.stream, contentLength: 20 * MIB, metadata: {} })
      .catch((err: unknown) => err)) as ObjectStoreError;

    expect(error).toBeInstanceOf(ObjectStoreError);
    expect(error.retryable).toBe(false);
    expect(error.message).not.toContain('wrong-secret-value-123');
    expect(error.message).not.toContain(s3.secretAccessKey);
    // S3 refused the first request (CreateMultipartUpload in stream mode, before any byte is read; the first
    // part in buffered mode): the rest of the download is not pulled, and the source is closed.
    expect(body.stream.destroyed).toBe(true);
    expect(body.produced()).toBeLessThan(20 * MIB);
  });

  it('reports an unreachable server as not ready and as a retryable failure', async () => {
    const store = make({ endpoint: 'http://127.0.0.1:1', createBucketIfMissing: false, maxAttempts: 1 });

    expect(await store.isReady()).toBe(false);
    await expect(
      store.put({ key: 'a.txt', body: testBody(10).stream, contentLength: 10, metadata: {} }),
    ).rejects.toMatchObject({
      name: 'ObjectStoreError',
      retryable: true,
    });
  });
});
