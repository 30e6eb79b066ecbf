// The one contract every ObjectStore adapter keeps (STYLE §3.5): memory and filesystem in the unit tier,
// S3 in test/integration against S3Proxy. Jest is imported explicitly so this file also type-checks in
// the production build, where jest's globals are not declared.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from '@jest/globals';
import { type ObjectStore, ObjectStoreError } from '../object-store.port';

export interface ObjectStoreHarness {
  /** A store to run the contract on; the suite closes it after all tests. Tests use fresh key prefixes. */
  create(): Promise<ObjectStore>;
}

export interface TestBodyOptions {
  /** Bytes per chunk pushed. Default 64 KiB (what an HTTP download typically delivers). */
  chunkSize?: number;
  /** The stream fails with an error once this many bytes were produced. */
  failAfterBytes?: number;
  /** The stream stops producing (never ends) once this many bytes were produced, like a stalled download. */
  stallAfterBytes?: number;
  /** Called after each chunk with the total produced so far. */
  onBytes?(produced: number): void;
}

export interface TestBody {
  stream: Readable;
  /** SHA-256 (hex) of the bytes produced so far: of the whole body once it has been read. */
  sha256(): string;
  produced(): number;
}

/**
 * A body generated on the fly (never held in memory as a whole), produced only as fast as it is read, so
 * it also shows whether an adapter applies backpressure.
 */
export function testBody(size: number, options: TestBodyOptions = {}): TestBody {
  const chunkSize = options.chunkSize ?? 64 * 1024;
  const block = randomBytes(chunkSize);
  const hash = createHash('sha256');
  let produced = 0;
  let digest: string | undefined;
  const stream = new Readable({
    highWaterMark: chunkSize,
    read() {
      if (options.failAfterBytes !== undefined && produced >= options.failAfterBytes) {
        this.destroy(new Error('simulated source failure'));
        return;
      }
      if (options.stallAfterBytes !== undefined && produced >= options.stallAfterBytes) {
        return;
      }
      if (produced >= size) {
        this.push(null);
        return;
      }
      const length = Math.min(chunkSize, size - produced);
      const chunk = Buffer.from(block.subarray(0, length));
      // Vary every chunk, so a part written twice or out of order changes the hash.
      if (length >= 8) {
        chunk.writeDoubleBE(produced, 0);
      }
      hash.update(chunk);
      produced += length;
      this.push(chunk);
      options.onBytes?.(produced);
    },
  });
  return {
    stream,
    sha256: () => (digest ??= hash.copy().digest('hex')),
    produced: () => produced,
  };
}

const MIB = 1024 * 1024;
/** Larger than S3's 5 MiB minimum part, so the S3 adapter goes multipart (its harness uses 5 MiB parts). */
const MULTIPART_SIZE = 12 * MIB;

export function describeObjectStoreContract(name: string, harness: ObjectStoreHarness): void {
  describe(`ObjectStore contract: ${name}`, () => {
    let store: ObjectStore | undefined;
    const open = async (): Promise<ObjectStore> => (store ??= await harness.create());
    const prefix = (): string => `contract-${randomUUID()}/`;

    afterAll(async () => {
      await store?.close();
    });

    async function expectNothingStored(s: ObjectStore, key: string, keyPrefix: string): Promise<void> {
      expect(await s.head(key)).toBeNull();
      expect(await s.listIncompleteUploads(keyPrefix)).toEqual([]);
    }

    it('stores the bytes and reports size, etag, metadata and the SHA-256 of the bytes', async () => {
      const s = await open();
      const key = `${prefix()}recording.m4a`;
      const body = testBody(300_000);

      const result = await s.put({
        key,
        body: body.stream,
        contentLength: 300_000,
        contentType: 'audio/mp4',
        metadata: { 'zoom-file-id': 'f-123', 'Zoom-Meeting-UUID': 'abc==' },
      });

      expect(result).toMatchObject({ bucket: s.bucket, key, size: 300_000, sha256: body.sha256() });
      expect(result.etag).not.toBe('');
      const head = await s.head(key);
      expect(head).toEqual({
        key,
        size: 300_000,
        etag: result.etag,
        sha256: body.sha256(),
        // The SHA-256 is also in the metadata where the adapter puts it there (filesystem, memory, S3 'metadata').
        metadata: {
          'zoom-file-id': 'f-123',
          'zoom-meeting-uuid': 'abc==',
          'zoom-size': '300000',
          ...(head?.metadata.sha256 === undefined ? {} : { sha256: body.sha256() }),
        },
      });
    });

    it(
      'stores a body of unknown size (contentLength undefined) whole, small or multipart, and reports its ' +
        'size and SHA-256',
      async () => {
        const s = await open();
        for (const size of [4_000, MULTIPART_SIZE + 12_345]) {
          const key = `${prefix()}captions-${size}.vtt`;
          const body = testBody(size);

          const result = await s.put({
            key,
            body: body.stream,
            contentLength: undefined,
            contentType: 'text/vtt',
            metadata: { 'zoom-file-id': 'cc' },
          });

          expect(result).toMatchObject({ key, size, sha256: body.sha256() });
          expect(await s.head(key)).toMatchObject({
            key,
            size,
            etag: result.etag,
            sha256: body.sha256(),
            metadata: { 'zoom-file-id': 'cc' },
          });
        }
      },
    );

    it('stores nothing when a body of unknown size fails midway', async () => {
      const s = await open();
      const keyPrefix = prefix();
      const key = `${keyPrefix}unknown-broken.mp4`;

      const put = s.put({
        key,
        body: testBody(MULTIPART_SIZE, { failAfterBytes: 6 * MIB }).stream,
        contentLength: undefined,
        metadata: {},
      });

      await expect(put).rejects.toMatchObject({ name: 'ObjectStoreError', retryable: true, failure: 'source_failed' });
      await expectNothingStored(s, key, keyPrefix);
    });

    it('streams an object of several MiB that arrives in small chunks', async () => {
      const s = await open();
      const key = `${prefix()}video.mp4`;
      const body = testBody(MULTIPART_SIZE);

      const result = await s.put({ key, body: body.stream, contentLength: MULTIPART_SIZE, metadata: {} });

      expect(result.sha256).toBe(body.sha256());
      expect(await s.head(key)).toMatchObject({ size: MULTIPART_SIZE, etag: result.etag, sha256: body.sha256() });
    });

    it('stores nothing and leaves no incomplete upload when the body ends short of contentLength', async () => {
      const s = await open();
      const keyPrefix = prefix();
      const key = `${keyPrefix}short.mp4`;

      const put = s.put({
        key,
        body: testBody(MULTIPART_SIZE - MIB).stream,
        contentLength: MULTIPART_SIZE,
        metadata: {},
      });

      await expect(put).rejects.toBeInstanceOf(ObjectStoreError);
      await expect(put).rejects.toMatchObject({
        retryable: false,
        failure: 'size_mismatch',
        message: expect.stringContaining('size mismatch'),
      });
      await expectNothingStored(s, key, keyPrefix);
    });

    it('stores nothing when the body is longer than contentLength', async () => {
      const s = await open();
      const keyPrefix = prefix();
      const key = `${keyPrefix}long.txt`;

      const put = s.put({ key, body: testBody(2_000).stream, contentLength: 1_000, metadata: {} });

      await expect(put).rejects.toMatchObject({ name: 'ObjectStoreError', retryable: false, failure: 'size_mismatch' });
      await expectNothingStored(s, key, keyPrefix);
    });

    it('stores nothing when the body stream fails midway', async () => {
      const s = await open();
      const keyPrefix = prefix();
      const key = `${keyPrefix}broken.mp4`;
      const body = testBody(MULTIPART_SIZE, { failAfterBytes: 6 * MIB });

      const put = s.put({ key, body: body.stream, contentLength: MULTIPART_SIZE, metadata: {} });

      await expect(put).rejects.toMatchObject({ name: 'ObjectStoreError', retryable: true, failure: 'source_failed' });
      await expectNothingStored(s, key, keyPrefix);
    });

    it('stores nothing when the signal aborts midway', async () => {
      const s = await open();
      const keyPrefix = prefix();
      const key = `${keyPrefix}aborted.mp4`;
      const controller = new AbortController();
      const body = testBody(MULTIPART_SIZE, {
        onBytes: (produced) => {
          if (produced >= 6 * MIB) {
            controller.abort();
          }
        },
      });

      const put = s.put({
        key,
        body: body.stream,
        contentLength: MULTIPART_SIZE,
        metadata: {},
        signal: controller.signal,
      });

      await expect(put).rejects.toMatchObject({ name: 'ObjectStoreError', retryable: true });
      expect(body.stream.destroyed).toBe(true);
      await expectNothingStored(s, key, keyPrefix);
    });

    it('gives up promptly when aborted while the source has stalled', async () => {
      const s = await open();
      const keyPrefix = prefix();
      const key = `${keyPrefix}stalled.mp4`;
      const controller = new AbortController();
      const body = testBody(MULTIPART_SIZE, { stallAfterBytes: 6 * MIB });

      const put = s.put({
        key,
        body: body.stream,
        contentLength: MULTIPART_SIZE,
        metadata: {},
        signal: controller.signal,
      });
      while (body.produced() < 6 * MIB) {
        await sleep(10);
      }
      await sleep(100);
      const abortedAt = Date.now();
      controller.abort();

      await expect(put).rejects.toMatchObject({ name: 'ObjectStoreError', retryable: true });
      expect(Date.now() - abortedAt).toBeLessThan(5_000);
      await expectNothingStored(s, key, keyPrefix);
    });

    it('rejects at once, without reading the body, when the signal is already aborted', async () => {
      const s = await open();
      const keyPrefix = prefix();
      const key = `${keyPrefix}never.txt`;
      const body = testBody(1_000);

      const put = s.put({ key, body: body.stream, contentLength: 1_000, metadata: {}, signal: AbortSignal.abort() });

      await expect(put).rejects.toMatchObject({ name: 'ObjectStoreError', retryable: true });
      expect(body.produced()).toBe(0);
      expect(body.stream.destroyed).toBe(true);
      await expectNothingStored(s, key, keyPrefix);
    });

    it('replaces an object written again to the same key', async () => {
      const s = await open();
      const key = `${prefix()}again.txt`;
      await s.put({
        key,
        body: Readable.from([Buffer.from('first version')]),
        contentLength: 13,
        metadata: { v: '1' },
      });
      const second = testBody(5_000);

      const result = await s.put({ key, body: second.stream, contentLength: 5_000, metadata: { v: '2' } });

      expect(await s.head(key)).toMatchObject({
        key,
        size: 5_000,
        etag: result.etag,
        sha256: second.sha256(),
        metadata: { v: '2', 'zoom-size': '5000' },
      });
    });

    it('keeps the previous object when an overwrite fails', async () => {
      const s = await open();
      const key = `${prefix()}keep.txt`;
      const first = await s.put({
        key,
        body: Readable.from([Buffer.from('good bytes')]),
        contentLength: 10,
        metadata: {},
      });

      await expect(s.put({ key, body: testBody(100).stream, contentLength: 200, metadata: {} })).rejects.toBeInstanceOf(
        ObjectStoreError,
      );

      expect(await s.head(key)).toMatchObject({ size: 10, etag: first.etag, sha256: first.sha256 });
    });

    it('accepts keys with unicode characters, spaces, reserved URL characters and / segments', async () => {
      const s = await open();
      const key = `${prefix()}acc-ü/2026/01/02/Réunion 会议 a+b=c&d-shared_screen (1).mp4`;
      const body = testBody(1_234);

      const result = await s.put({ key, body: body.stream, contentLength: 1_234, metadata: {} });

      expect(result.key).toBe(key);
      expect(await s.head(key)).toMatchObject({ key, size: 1_234, sha256: body.sha256() });
    });

    it('stores a zero-byte object', async () => {
      const s = await open();
      const key = `${prefix()}empty.txt`;

      const result = await s.put({ key, body: Readable.from([]), contentLength: 0, metadata: {} });

      expect(result.sha256).toBe(createHash('sha256').digest('hex'));
      expect(await s.head(key)).toMatchObject({ size: 0, sha256: result.sha256, metadata: { 'zoom-size': '0' } });
    });

    it('returns null from head for a key that was never written', async () => {
      const s = await open();
      expect(await s.head(`${prefix()}missing.mp4`)).toBeNull();
    });

    it.each(['../escape.mp4', '/absolute.mp4', 'a//b.mp4', 'a/./b.mp4', 'a/../b.mp4', 'nul\u0000.mp4'])(
      'refuses the unsafe key %j without storing anything',
      async (key) => {
        const s = await open();
        const body = testBody(10);

        const put = s.put({ key, body: body.stream, contentLength: 10, metadata: {} });

        await expect(put).rejects.toMatchObject({ name: 'ObjectStoreError', retryable: false });
        expect(body.stream.destroyed).toBe(true);
      },
    );

    it('refuses metadata that cannot travel as S3 headers, and metadata the store sets itself', async () => {
      const s = await open();
      const key = `${prefix()}meta.txt`;

      await expect(
        s.put({ key, body: testBody(1).stream, contentLength: 1, metadata: { topic: 'Réunion' } }),
      ).rejects.toMatchObject({ name: 'ObjectStoreError', retryable: false });
      await expect(
        s.put({ key, body: testBody(1).stream, contentLength: 1, metadata: { sha256: 'forged' } }),
      ).rejects.toMatchObject({ name: 'ObjectStoreError', retryable: false });
      expect(await s.head(key)).toBeNull();
    });

    it('reports itself ready', async () => {
      const s = await open();
      expect(await s.isReady()).toBe(true);
    });
  });
}
