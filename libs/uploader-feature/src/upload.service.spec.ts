import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { loadConfig } from '@zoom-pipeline/config';
import { type FileWorkItem, TOPICS, type UploadFailure } from '@zoom-pipeline/contracts';
import { MemoryDedupStore } from '@zoom-pipeline/dedup-store';
import type { ConsumedMessage, HandlerBatch } from '@zoom-pipeline/event-bus';
import { handlerBatch } from '@zoom-pipeline/event-bus/testing';
import { MemoryObjectStore } from '@zoom-pipeline/object-store';
import { HealthService } from '@zoom-pipeline/service-kit';
import { createLogger } from '@zoom-pipeline/telemetry';
import { DownloadError, type RecordingDownloader } from '@zoom-pipeline/zoom-download';
import type { DownloadRequest, DownloadStream } from '@zoom-pipeline/zoom-download';
import { Registry } from 'prom-client';
import { RETRY_HEADERS, UploadService } from './upload.service';

type Behaviour = (req: DownloadRequest) => Promise<DownloadStream>;

const bytes = (n: number) => Buffer.alloc(n, 7);
const serve =
  (n: number): Behaviour =>
  async () => ({
    body: Readable.from([bytes(n)]),
    contentType: 'video/mp4',
    stats: () => ({ attempts: 1, resumes: 0, bytes: n, tokenSource: 'webhook' }),
  });

function item(fileId: string, size = 1000): FileWorkItem {
  return {
    v: 1,
    fileId,
    canonicalId: `${fileId}-canonical`,
    app: 'default',
    accountId: 'acct',
    meetingUuid: 'uuid==',
    meetingId: '123',
    topic: 'Unit',
    hostId: 'host',
    meetingStartTime: '2026-11-23T10:00:00Z',
    recordingStart: '2026-11-23T10:00:05Z',
    recordingEnd: '2026-11-23T11:00:05Z',
    fileType: 'MP4',
    fileExtension: 'MP4',
    fileSize: size,
    downloadUrl: `https://zoom.us/rec/webhook_download/${fileId}/x`,
    downloadToken: 'tok-SECRET',
    tokenReceivedAt: new Date().toISOString(),
  };
}

let offset = 0;
function message(i: FileWorkItem, headers: Record<string, string> = {}): ConsumedMessage {
  return {
    topic: TOPICS.files,
    partition: 0,
    offset: String(offset++),
    timestamp: Date.now(),
    key: i.fileId,
    value: Buffer.from(JSON.stringify(i)),
    headers,
  };
}

function batchOf(messages: ConsumedMessage[], active = () => true): HandlerBatch {
  return handlerBatch({
    topic: TOPICS.files,
    partition: 0,
    messages,
    heartbeat: async () => undefined,
    isActive: active,
  });
}

function setup(behaviours: Record<string, Behaviour>, env: Record<string, string> = {}) {
  const config = loadConfig({ UPLOAD_RETRY_BUDGET: '30m', ...env }, { requireWebhookSecrets: false, cwd: '/tmp' });
  const opened: string[] = [];
  const requests: DownloadRequest[] = [];
  const downloader = {
    open: (req: DownloadRequest) => {
      const fileId = /webhook_download\/([^/]+)\//.exec(req.url)![1]!;
      opened.push(fileId);
      requests.push(req);
      return behaviours[fileId]!(req);
    },
  } as unknown as RecordingDownloader;
  const objects = new MemoryObjectStore();
  const service = new UploadService(
    config,
    new MemoryDedupStore(),
    objects,
    downloader,
    createLogger({ name: 'test', level: 'silent' }),
    new Registry(),
    new HealthService(),
  );
  return { service, opened, objects, requests };
}

const failureIn = (outputs: Array<{ topic: string; key: string | null; value: Buffer }>, fileId: string) =>
  JSON.parse(outputs.find((o) => o.topic === TOPICS.failed && o.key === fileId)!.value.toString()) as UploadFailure;

describe('UploadService.handleBatch: every record settles on its own', () => {
  it(
    'dead-letters a size mismatch found mid-body (wrapped by the store) and stores the file behind it, in one ' +
      'commit',
    async () => {
      const midBody: Behaviour = async () => {
        const body = new Readable({ read() {} });
        body.push(bytes(500));
        setImmediate(() =>
          body.destroy(
            new DownloadError('download_size_mismatch', 'sent more than file_size (1000 bytes)', {
              retryable: false,
              host: 'ssrweb.zoom.us',
            }),
          ),
        );
        return {
          body,
          contentType: 'video/mp4',
          stats: () => ({ attempts: 1, resumes: 0, bytes: 500, tokenSource: 'webhook' }),
        };
      };
      const { service } = setup({ bad: midBody, good: serve(1000) });
      const msgs = [message(item('bad')), message(item('good'))];

      const result = await service.handleBatch(batchOf(msgs));

      expect(failureIn(result.outputs, 'bad')).toMatchObject({ reason: 'download_size_mismatch', attempts: 1 });
      expect(result.outputs.filter((o) => o.topic === TOPICS.uploaded).map((o) => o.key)).toEqual(['good']);
      expect(result.commitThrough).toBe(msgs[1]!.offset);
    },
  );

  it('re-appends a rate-limited record with its retry state, not before Retry-After, and commits past it', async () => {
    const limited: Behaviour = async () => {
      throw new DownloadError('download_http_error', 'answered HTTP 429', {
        retryable: true,
        status: 429,
        retryAfterMs: 60_000,
      });
    };
    const { service } = setup({ limited, good: serve(1000) });
    const msgs = [
      message(item('limited'), { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00' }),
      message(item('good')),
    ];
    const before = Date.now();

    const result = await service.handleBatch(batchOf(msgs));

    const retry = result.outputs.find((o) => o.topic === TOPICS.files)!;
    expect(retry.key).toBe('limited');
    expect(retry.value.equals(msgs[0]!.value)).toBe(true);
    expect(Number(retry.headers![RETRY_HEADERS.at])).toBeGreaterThanOrEqual(before + 60_000);
    expect(retry.headers![RETRY_HEADERS.attempt]).toBe('1');
    expect(retry.headers!.traceparent).toBe(msgs[0]!.headers.traceparent);
    expect(result.outputs.some((o) => o.topic === TOPICS.failed)).toBe(false);
    expect(result.commitThrough).toBe(msgs[1]!.offset);
  });

  it('hands a record that is not due yet back to the log without trying it', async () => {
    const { service, opened } = setup({ later: serve(1000), good: serve(1000) });
    const waiting = message(item('later'), {
      [RETRY_HEADERS.since]: String(Date.now()),
      [RETRY_HEADERS.attempt]: '2',
      [RETRY_HEADERS.at]: String(Date.now() + 600_000),
    });

    const result = await service.handleBatch(batchOf([waiting, message(item('good'))]));

    expect(opened).toEqual(['good']);
    expect(result.outputs.find((o) => o.topic === TOPICS.files)?.headers?.[RETRY_HEADERS.attempt]).toBe('2');
  });

  it('dead-letters a record whose transient failures outlast the retry budget', async () => {
    const down: Behaviour = async () => {
      throw new DownloadError('download_http_error', 'answered HTTP 503', { retryable: true, status: 503 });
    };
    const { service } = setup({ down }, { UPLOAD_RETRY_BUDGET: '10m' });
    const since = Date.now() - 11 * 60_000;
    const result = await service.handleBatch(
      batchOf([
        message(item('down'), {
          [RETRY_HEADERS.since]: String(since),
          [RETRY_HEADERS.attempt]: '9',
          [RETRY_HEADERS.at]: '0',
        }),
      ]),
    );

    expect(failureIn(result.outputs, 'down')).toMatchObject({ reason: 'retry_budget_exhausted', attempts: 10 });
    expect(result.outputs.some((o) => o.topic === TOPICS.files)).toBe(false);
  });

  it('does not run records again that settled when the bus redelivers the batch', async () => {
    const { service, opened } = setup({ a: serve(1000), b: serve(1000) });
    const msgs = [message(item('a')), message(item('b'))];
    await service.handleBatch(batchOf(msgs));
    const again = await service.handleBatch(batchOf(msgs)); // e.g. publishing the outputs failed

    expect(opened).toEqual(['a', 'b']);
    expect(again.outputs.filter((o) => o.topic === TOPICS.uploaded)).toHaveLength(2);
  });

  it("never overwrites another file's object at the same key", async () => {
    const { service, objects, opened } = setup({ mine: serve(1000) });
    const first = await service.handleBatch(batchOf([message(item('mine'))]));
    const key = JSON.parse(first.outputs[0]!.value.toString()).key as string;
    await objects.put({
      key,
      body: Readable.from([bytes(3)]),
      contentLength: 3,
      metadata: { 'zoom-file-id': 'someone-else' },
    });

    const second = await service.handleBatch(batchOf([message(item('mine'))]));

    expect(failureIn(second.outputs, 'mine').reason).toBe('object_key_collision');
    expect((await objects.head(key))?.size).toBe(3);
    expect(opened).toEqual(['mine']);
  });

  it('starts no queued transfer after shutdown and commits nothing unfinished', async () => {
    let release!: () => void;
    const slow: Behaviour = (req) =>
      new Promise((_resolve, reject) => {
        release = () => reject(new Error('aborted'));
        req.signal?.addEventListener('abort', () => reject(new Error('aborted')));
      });
    const { service, opened } = setup({ slow, queued: serve(1000) }, { UPLOAD_CONCURRENCY: '1' });
    const handled = service.handleBatch(batchOf([message(item('slow')), message(item('queued'))])).then(
      () => 'committed',
      () => 'not committed',
    );
    while (opened.length === 0) await new Promise((r) => setImmediate(r));

    service.beforeApplicationShutdown();
    release();

    expect(await handled).toBe('not committed');
    expect(opened).toEqual(['slow']);
  });
});

describe('UploadService.handleBatch: files that must not be downloaded as they are', () => {
  it('an item with no download token and no OAuth credentials fails at once, naming what to set', async () => {
    const { service, opened } = setup({ notoken: serve(1000) });
    const { downloadToken: _none, ...noToken } = item('notoken');
    const result = await service.handleBatch(batchOf([message(noToken as FileWorkItem)]));
    const failure = failureIn(result.outputs, 'notoken');
    expect(failure.reason).toBe('download_credentials_missing');
    expect(failure.message).toContain('ZOOM_CLIENT_ID');
    expect(opened).toEqual([]);
  });

  it('a file Zoom still reports as processing is not downloaded: back to the log, retried later', async () => {
    const { service, opened } = setup({ proc: serve(1000) });
    const result = await service.handleBatch(batchOf([message({ ...item('proc'), fileStatus: 'processing' })]));
    const back = result.outputs.find((o) => o.topic === TOPICS.files && o.key === 'proc')!;
    expect(Number(back.headers![RETRY_HEADERS.at])).toBeGreaterThan(Date.now());
    expect(result.outputs.some((o) => o.topic === TOPICS.uploaded)).toBe(false);
    expect(opened).toEqual([]);
  });
});

describe('UploadService.handleBatch: files of unknown size', () => {
  it('stores a file Zoom gave no file_size as received (size = bytes received, SHA-256 recorded), once', async () => {
    const { service, objects, requests } = setup({ nosize: serve(4321) });
    const noSize = { ...item('nosize', 0), fileType: 'CC', fileExtension: 'VTT', sizeUnknown: true as const };

    const result = await service.handleBatch(batchOf([message(noSize)]));

    const uploaded = result.outputs
      .filter((o) => o.topic === TOPICS.uploaded)
      .map(
        (o) => JSON.parse(o.value.toString()) as { key: string; size: number; sha256: string; alreadyStored: boolean },
      );
    expect(uploaded).toHaveLength(1);
    expect(uploaded[0]).toMatchObject({
      size: 4321,
      alreadyStored: false,
      sha256: createHash('sha256').update(bytes(4321)).digest('hex'),
    });
    expect(requests.map((r) => r.expectedSize)).toEqual([undefined]);
    expect(await objects.head(uploaded[0]!.key)).toMatchObject({ size: 4321, sha256: uploaded[0]!.sha256 });

    // Redelivered (a retry of the webhook, a crash before the commit): already stored, whatever its size.
    const again = await service.handleBatch(batchOf([message(noSize)]));
    expect(again.outputs.map((o) => [o.topic, JSON.parse(o.value.toString()).alreadyStored])).toEqual([
      [TOPICS.uploaded, true],
    ]);
    expect(requests).toHaveLength(1);
  });
});

describe("UploadService.handleBatch: another copy's URL and token when this one is refused", () => {
  const refused: Behaviour = async () => {
    throw new DownloadError('download_unauthorized', 'rejected the download credential (HTTP 401)', {
      retryable: false,
      host: 'zoom.us',
      status: 401,
    });
  };
  const withAlternate = (fileId: string): FileWorkItem => ({
    ...item(fileId),
    alternates: [
      {
        downloadUrl: `https://zoom.us/rec/webhook_download/${fileId}-copy2/y`,
        downloadToken: 'copy2-SECRET',
        receivedAt: new Date().toISOString(),
      },
    ],
  });

  it("falls back to the other copy's own pair on 401, never mixing a URL with another delivery's token", async () => {
    const { service, requests } = setup({ f: refused, 'f-copy2': serve(1000) });

    const result = await service.handleBatch(batchOf([message(withAlternate('f'))]));

    expect(result.outputs.map((o) => o.topic)).toEqual([TOPICS.uploaded]);
    expect(requests.map((r) => [r.url.split('/')[5], r.tokens.map((t) => t.token)])).toEqual([
      ['f', ['tok-SECRET']],
      ['f-copy2', ['copy2-SECRET']],
    ]);
  });

  it('reports the last refusal when every pair is refused, without any token in the failure record', async () => {
    const { service, requests } = setup({ g: refused, 'g-copy2': refused });

    const result = await service.handleBatch(batchOf([message(withAlternate('g'))]));

    const failure = failureIn(result.outputs, 'g');
    expect(failure.reason).toBe('download_unauthorized');
    expect(requests).toHaveLength(2);
    const text = result.outputs.map((o) => o.value.toString()).join('');
    expect(text).not.toContain('SECRET');
    expect(failure.item).not.toHaveProperty('alternates');
  });

  it('does not try another pair for a failure that is not about the credential (404)', async () => {
    const gone: Behaviour = async () => {
      throw new DownloadError('download_http_error', 'answered HTTP 404', {
        retryable: false,
        host: 'zoom.us',
        status: 404,
      });
    };
    const { service, opened } = setup({ h: gone, 'h-copy2': serve(1000) });

    const result = await service.handleBatch(batchOf([message(withAlternate('h'))]));

    expect(failureIn(result.outputs, 'h').reason).toBe('download_http_error');
    expect(opened).toEqual(['h']);
  });
});
