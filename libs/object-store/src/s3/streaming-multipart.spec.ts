// Unit tests of the part splitting and failure handling with a scripted client; the real S3 behaviour
// (S3Proxy) is covered by test/integration/s3-object-store.int-spec.ts.
import type { S3Client } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { MAX_PARTS, partSizeFor, streamingMultipartUpload, type StreamingMultipartInput } from './streaming-multipart';

const MIB = 1024 * 1024;

interface Sent {
  name: string;
  input: Record<string, unknown>;
}

/** A client whose UploadPart reads the whole streamed body (or fails as told) and records what it got. */
function scriptedClient(opts: { failPart?: number; stallPart?: number; failPartLater?: number } = {}) {
  const sent: Sent[] = [];
  const parts = new Map<number, Buffer>();
  let open = 0;
  let maxOpen = 0;
  const client = {
    send: async (
      command: { constructor: { name: string }; input: Record<string, unknown> },
      options?: { abortSignal?: AbortSignal },
    ) => {
      const name = command.constructor.name;
      sent.push({ name, input: command.input });
      if (name === 'CreateMultipartUploadCommand') return { UploadId: 'u-1' };
      if (name === 'CompleteMultipartUploadCommand') return { ETag: '"done"' };
      if (name === 'AbortMultipartUploadCommand') return {};
      const n = command.input.PartNumber as number;
      open += 1;
      maxOpen = Math.max(maxOpen, open);
      try {
        if (n === opts.failPart) throw Object.assign(new Error('part refused'), { $metadata: { httpStatusCode: 503 } });
        if (n === opts.failPartLater) {
          // Reads whatever arrives (so the writer is not waiting for 'drain'), then fails.
          (command.input.Body as Readable).resume();
          await new Promise((r) => setTimeout(r, 200));
          throw Object.assign(new Error('part refused later'), { $metadata: { httpStatusCode: 500 } });
        }
        if (n === opts.stallPart) {
          // Reads nothing, answers nothing: only the abort signal ends it.
          await new Promise((_r, reject) =>
            options?.abortSignal?.addEventListener('abort', () => reject(new Error('aborted'))),
          );
        }
        const chunks: Buffer[] = [];
        for await (const c of command.input.Body as Readable) chunks.push(c as Buffer);
        parts.set(n, Buffer.concat(chunks));
        return { ETag: `"e${n}"` };
      } finally {
        open -= 1;
      }
    },
  };
  return { client: client as unknown as S3Client, sent, parts, maxOpen: () => maxOpen };
}

function bytes(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + 7) & 0xff;
  return b;
}

/** A body that arrives in chunks of `chunk` bytes (not aligned to parts). */
function source(data: Buffer, chunk: number): Readable {
  let at = 0;
  return new Readable({
    read() {
      if (at >= data.length) return this.push(null);
      this.push(data.subarray(at, at + chunk));
      at += chunk;
    },
  });
}

function input(
  client: S3Client,
  body: Readable,
  contentLength: number,
  extra: Partial<StreamingMultipartInput> = {},
): StreamingMultipartInput {
  return {
    client,
    partClient: client,
    bucket: 'b',
    key: 'k',
    contentType: 'video/mp4',
    metadata: { 'zoom-file-id': 'f' },
    contentLength,
    partSize: 5 * MIB,
    queueSize: 2,
    body,
    onUploadId: () => undefined,
    ...extra,
  };
}

describe('partSizeFor', () => {
  it('keeps the configured size while the object fits in 10,000 parts', () => {
    expect(partSizeFor(2 * 1024 * MIB, 16 * MIB)).toBe(16 * MIB);
    expect(partSizeFor(16 * MIB * MAX_PARTS, 16 * MIB)).toBe(16 * MIB);
  });

  it('raises it to whole MiB when more than 10,000 parts would be needed', () => {
    const size = 16 * MIB * MAX_PARTS + 1;
    const part = partSizeFor(size, 16 * MIB);
    expect(part).toBe(17 * MIB);
    expect(Math.ceil(size / part)).toBeLessThanOrEqual(MAX_PARTS);
  });
});

describe('streamingMultipartUpload', () => {
  it('sends consecutive exact slices as parts, in order, and completes with every part', async () => {
    const data = bytes(12 * MIB + 12_345);
    const s = scriptedClient();

    const etag = await streamingMultipartUpload(input(s.client, source(data, 64 * 1024 + 3), data.length));

    expect(etag).toBe('"done"');
    expect([...s.parts.keys()].sort()).toEqual([1, 2, 3]);
    expect(s.parts.get(1)!.length).toBe(5 * MIB);
    expect(s.parts.get(3)!.length).toBe(2 * MIB + 12_345);
    const joined = Buffer.concat([1, 2, 3].map((n) => s.parts.get(n)!));
    expect(createHash('sha256').update(joined).digest('hex')).toBe(createHash('sha256').update(data).digest('hex'));
    const uploadParts = s.sent.filter((c) => c.name === 'UploadPartCommand');
    expect(uploadParts.map((c) => c.input.ContentLength)).toEqual([5 * MIB, 5 * MIB, 2 * MIB + 12_345]);
    const complete = s.sent.find((c) => c.name === 'CompleteMultipartUploadCommand')!;
    expect(complete.input.MultipartUpload).toEqual({
      Parts: [
        { PartNumber: 1, ETag: '"e1"' },
        { PartNumber: 2, ETag: '"e2"' },
        { PartNumber: 3, ETag: '"e3"' },
      ],
    });
    expect(s.sent[0]).toMatchObject({
      name: 'CreateMultipartUploadCommand',
      input: { ContentType: 'video/mp4', Metadata: { 'zoom-file-id': 'f' } },
    });
    expect(s.sent.some((c) => c.name === 'AbortMultipartUploadCommand')).toBe(false);
  });

  it('fails with the part error, aborts the upload and completes nothing when a part is refused', async () => {
    const data = bytes(20 * MIB);
    const s = scriptedClient({ failPart: 2 });
    const body = source(data, 64 * 1024);

    await expect(streamingMultipartUpload(input(s.client, body, data.length))).rejects.toThrow('part refused');

    const names = s.sent.map((c) => c.name);
    expect(names).toContain('AbortMultipartUploadCommand');
    expect(names).not.toContain('CompleteMultipartUploadCommand');
    // The source is not read to its end once the upload has failed.
    expect(body.destroyed).toBe(true);
  });

  it('ends a part request that stalls when the body fails, instead of waiting for a server timeout', async () => {
    const data = bytes(12 * MIB);
    const s = scriptedClient({ stallPart: 1 });
    const body = source(data, 64 * 1024);
    setTimeout(() => body.destroy(new Error('download broke')), 50);

    const started = Date.now();
    await expect(streamingMultipartUpload(input(s.client, body, data.length))).rejects.toThrow('download broke');

    expect(Date.now() - started).toBeLessThan(2_000);
    expect(s.sent.map((c) => c.name)).toContain('AbortMultipartUploadCommand');
  });

  it('keeps at most queueSize part requests open', async () => {
    const data = bytes(30 * MIB);
    const s = scriptedClient();

    await streamingMultipartUpload(input(s.client, source(data, 256 * 1024), data.length, { queueSize: 2 }));

    expect(s.parts.size).toBe(6);
    expect(s.maxOpen()).toBeLessThanOrEqual(2);
  });

  it('stops reading a stalled source as soon as a part fails', async () => {
    const s = scriptedClient({ failPartLater: 2 });
    // 6 MiB arrive (part 1 whole, 1 MiB of part 2), then the source stalls for good: the writer waits for the
    // source, not for 'drain', and only the failure of part 2 can end the upload.
    let sent = 0;
    const body = new Readable({
      read() {
        if (sent < 6 * MIB) {
          this.push(Buffer.alloc(64 * 1024, 1));
          sent += 64 * 1024;
        }
      },
    });

    const started = Date.now();
    await expect(streamingMultipartUpload(input(s.client, body, 20 * MIB))).rejects.toThrow('part refused later');

    expect(Date.now() - started).toBeLessThan(2_000);
    expect(body.destroyed).toBe(true);
    expect(s.sent.map((c) => c.name)).toContain('AbortMultipartUploadCommand');
  });

  it('refuses a body longer than contentLength instead of sending an empty part', async () => {
    const data = bytes(6 * MIB);
    const s = scriptedClient();

    await expect(streamingMultipartUpload(input(s.client, source(data, 64 * 1024), 5 * MIB + 1))).rejects.toThrow(
      /longer than/,
    );
    expect(
      s.sent.filter((c) => c.name === 'UploadPartCommand').every((c) => (c.input.ContentLength as number) > 0),
    ).toBe(true);
    expect(s.sent.map((c) => c.name)).toContain('AbortMultipartUploadCommand');
  });

  it('refuses a body that ends early, and aborts', async () => {
    const data = bytes(7 * MIB);
    const s = scriptedClient();

    await expect(streamingMultipartUpload(input(s.client, source(data, 64 * 1024), 8 * MIB))).rejects.toThrow(
      /ended after/,
    );
    expect(s.sent.map((c) => c.name)).toContain('AbortMultipartUploadCommand');
  });
});
