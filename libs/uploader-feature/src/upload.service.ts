import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { hostname } from 'node:os';
import { type BeforeApplicationShutdown, Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { objectKey, uploadFileTypeFilter } from '@zoom-pipeline/canonical';
import { type AppConfig, CONFIG } from '@zoom-pipeline/config';
import {
  ContractViolation,
  type FileWorkItem,
  TOPICS,
  type UploadFailure,
  type UploadFailureReason,
  type UploadResult,
  decodeFileWorkItem,
} from '@zoom-pipeline/contracts';
import { DEDUP_STORE, type DedupStore } from '@zoom-pipeline/dedup-store';
import { type Batch, type BatchResult, type ConsumedMessage, type HandlerBatch, type OutgoingMessage } from '@zoom-pipeline/event-bus';
import { OBJECT_STORE, type ObjectStore, ObjectStoreError } from '@zoom-pipeline/object-store';
import { HealthService, LOGGER, METRICS_REGISTRY } from '@zoom-pipeline/service-kit';
import { ATTR, type Logger, type Span, SpanKind, context, inSpan, forwardTraceHeaders, recordFailure, trace, tracer } from '@zoom-pipeline/telemetry';
import { DownloadError, type DownloadStream, ZoomDownloader } from '@zoom-pipeline/zoom-download';
import { fileTypeLabel } from '@zoom-pipeline/zoom-webhook';
import type { Registry } from 'prom-client';
import { Semaphore } from './semaphore';
import { UploaderMetrics } from './uploader.metrics';

export const UPLOADER_GROUP_ID = 'zoom-pipeline-uploader';
export const ZOOM_DOWNLOADER = Symbol('ZOOM_DOWNLOADER');

/** The file is being uploaded by another pod right now: retry the batch later (it will find the object). */
class LeaseBusy extends Error {}

type Outcome = { kind: 'stored'; result: UploadResult } | { kind: 'skipped' } | { kind: 'failed'; failure: UploadFailure };

/**
 * Stores every selected file of every canonical recording exactly once (SPEC invariants 4-6).
 * - An object that already exists with the same Zoom file id and size is not uploaded again (idempotent
 *   redelivery after a crash, or a second pod that lost the race).
 * - A lease per file id in the dedup store, renewed while the transfer runs, keeps two pods from
 *   uploading one file at once.
 * - The offset is committed (by the bus) only once each item of the batch is stored, skipped or
 *   dead-lettered on zoom.recording.failed; infrastructure errors (object store down) throw, so the
 *   batch is retried with backoff and nothing is lost.
 */
@Injectable()
export class UploadService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly metrics: UploaderMetrics;
  private readonly semaphore: Semaphore;
  private readonly selected: (fileType: string) => boolean;
  private readonly podId = `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  private readonly abort = new AbortController();

  constructor(
    @Inject(CONFIG) private readonly config: AppConfig,
    @Inject(DEDUP_STORE) private readonly store: DedupStore,
    @Inject(OBJECT_STORE) private readonly objects: ObjectStore,
    @Inject(ZOOM_DOWNLOADER) private readonly downloader: ZoomDownloader,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(METRICS_REGISTRY) registry: Registry,
    private readonly health: HealthService,
  ) {
    this.metrics = new UploaderMetrics(registry);
    this.semaphore = new Semaphore(config.upload.concurrency);
    this.selected = uploadFileTypeFilter(config.upload.fileTypes);
    // Every in-flight transfer listens for shutdown on this one signal.
    setMaxListeners(0, this.abort.signal);
  }

  onApplicationBootstrap(): void {
    this.health.addReadiness({ name: 'object-store', check: () => this.objects.isReady() });
    this.health.addReadiness({ name: 'dedup-store', check: () => this.store.isReady() });
  }

  /**
   * Before the transport stops the consumer (which waits for the batch in hand): in-flight uploads are aborted
   * (their multipart uploads too) and their offsets stay uncommitted, so another pod or the next start picks them up.
   */
  beforeApplicationShutdown(): void {
    this.abort.abort();
  }

  /** One fetched batch (file-work.consumer.ts): every file stored, skipped or dead-lettered, then committed. */
  async handleBatch(batch: HandlerBatch): Promise<BatchResult> {
    const results = await Promise.all(batch.messages.map((msg) => this.semaphore.run(() => this.tracedMessage(msg, batch))));
    const outputs: OutgoingMessage[] = [];
    results.forEach((outcome, i) => {
      const key = batch.messages[i].key;
      const headers = forwardTraceHeaders(batch.messages[i].headers, batch.contextOf(batch.messages[i]));
      if (outcome.kind === 'stored') outputs.push({ topic: TOPICS.uploaded, key, value: Buffer.from(JSON.stringify(outcome.result)), headers });
      if (outcome.kind === 'failed') outputs.push({ topic: TOPICS.failed, key, value: Buffer.from(JSON.stringify(outcome.failure)), headers });
    });
    return { outputs };
  }

  /**
   * `process zoom.recording.files`, a child of dedup's span named by the record's traceparent (not kafkajs'
   * eachBatch span, which only links); the download and the S3 upload are its children (invariant 8).
   */
  private async tracedMessage(msg: ConsumedMessage, batch: HandlerBatch): Promise<Outcome> {
    const span = batch.spanOf(msg);
    const outcome = await batch.withRecord(msg, () => this.processMessage(msg, batch, span));
    span.setAttribute('zoom.upload.outcome', outcome.kind);
    if (outcome.kind === 'failed') recordFailure(span, undefined, outcome.failure.reason);
    return outcome;
  }

  private async processMessage(msg: ConsumedMessage, batch: Batch, span: Span): Promise<Outcome> {
    let item: FileWorkItem;
    try {
      item = decodeFileWorkItem(msg.value);
    } catch (err) {
      const message = err instanceof ContractViolation ? err.message : 'work item is not valid JSON';
      this.metrics.failures.inc({ reason: 'invalid_work_item' });
      return { kind: 'failed', failure: { v: 1, fileId: msg.key ?? 'unknown', canonicalId: 'unknown', reason: 'invalid_work_item', message, attempts: 0, failedAt: new Date().toISOString() } };
    }
    span.setAttributes({ [ATTR.zoomFileId]: item.fileId, [ATTR.zoomMeetingUuid]: item.meetingUuid, [ATTR.zoomCanonicalId]: item.canonicalId, 'zoom.file_type': item.fileType });
    if (msg.key === item.fileId) span.setAttribute(ATTR.messagingKey, msg.key);
    if (!this.selected(item.fileType)) {
      this.metrics.files.inc({ outcome: 'skipped_type', file_type: fileTypeLabel(item.fileType) });
      return { kind: 'skipped' };
    }
    return this.processItem(item, batch);
  }

  private async processItem(item: FileWorkItem, batch: Batch): Promise<Outcome> {
    const key = objectKey(this.config.upload.objectKeyTemplate, item);
    const started = Date.now();
    const existing = await this.headInSpan(key);
    if (existing && existing.metadata['zoom-file-id'] === item.fileId && existing.size === item.fileSize) {
      this.metrics.files.inc({ outcome: 'already_stored', file_type: fileTypeLabel(item.fileType) });
      return { kind: 'stored', result: this.result(item, key, existing.size, existing.metadata.sha256 ?? '', existing.etag, started, true) };
    }

    const lease = `upload:${item.fileId}`;
    if (!(await this.store.acquireLease(lease, this.podId, this.config.upload.leaseTtlMs))) {
      throw new LeaseBusy(`file ${item.fileId} is being uploaded by another pod`);
    }
    const transfer = new AbortController();
    const onShutdown = () => transfer.abort();
    this.abort.signal.addEventListener('abort', onShutdown);
    const renew = setInterval(() => {
      void batch.heartbeat().catch(() => undefined);
      this.store.renewLease(lease, this.podId, this.config.upload.leaseTtlMs).then(
        (held) => {
          if (!held) {
            this.logger.warn({ fileId: item.fileId }, 'upload lease lost; aborting this transfer');
            transfer.abort();
          }
        },
        () => undefined, // a store blip: the lease TTL covers a few missed renewals
      );
    }, Math.max(1_000, Math.floor(this.config.upload.leaseTtlMs / 3)));
    this.metrics.inFlight.inc();
    try {
      return await this.transfer(item, key, started, transfer.signal);
    } finally {
      clearInterval(renew);
      this.metrics.inFlight.dec();
      this.abort.signal.removeEventListener('abort', onShutdown);
      await this.store.releaseLease(lease, this.podId).catch(() => undefined);
    }
  }

  private async transfer(item: FileWorkItem, key: string, started: number, signal: AbortSignal): Promise<Outcome> {
    const maxStoreAttempts = 5;
    for (let attempt = 1; ; attempt++) {
      try {
        // We hold the file's lease: any open multipart upload of this key belongs to a pod that died.
        const aborted = await this.objects.abortIncompleteUploads(key);
        if (aborted > 0) this.logger.info({ fileId: item.fileId, aborted }, 'aborted multipart uploads left by a crashed uploader');
        const tokens = await this.tokensFor(item);
        const download = await this.openDownload(item, tokens, signal);
        const stored = await inSpan('s3.put', { kind: SpanKind.CLIENT, attributes: this.s3Attributes('PutObject', key) }, () =>
          this.objects.put({
            key,
            body: download.body,
            contentLength: item.fileSize,
            contentType: download.contentType,
            metadata: { 'zoom-file-id': item.fileId, 'zoom-meeting-uuid': asciiSafe(item.meetingUuid), 'zoom-canonical-id': item.canonicalId, 'zoom-file-type': item.fileType },
            signal,
          }),
        );
        this.metrics.bytes.inc(stored.size);
        this.metrics.files.inc({ outcome: 'uploaded', file_type: fileTypeLabel(item.fileType) });
        this.metrics.seconds.observe({ outcome: 'uploaded' }, (Date.now() - started) / 1000);
        this.logger.info({ fileId: item.fileId, canonicalId: item.canonicalId, key, size: stored.size, ms: Date.now() - started }, 'recording file stored');
        return { kind: 'stored', result: this.result(item, key, stored.size, stored.sha256, stored.etag, started, false) };
      } catch (err) {
        if (signal.aborted) throw new Error('transfer aborted (shutdown or lease lost)', { cause: err });
        if (err instanceof DownloadError) {
          // The downloader already retried with backoff and resumed; what reaches here is final.
          return this.fail(item, err.code, err.message, attempt);
        }
        if (err instanceof ObjectStoreError && err.retryable && attempt < maxStoreAttempts) {
          this.metrics.retries.inc({ reason: 'store_failed' });
          await sleep(Math.min(30_000, 500 * 2 ** attempt) * Math.random());
          continue;
        }
        // Object store down for long: do not dead-letter our own outage; the batch is retried later.
        this.logger.warn({ fileId: item.fileId, cause: (err as Error).message }, 'store failed; the work item will be retried');
        throw err;
      }
    }
  }

  /**
   * A `GET` CLIENT span from the request until the body ends (it streams into the S3 upload). Attributes
   * name the host and the file only: never the URL's path token or query, nor the download token.
   */
  private async openDownload(item: FileWorkItem, tokens: Awaited<ReturnType<UploadService['tokensFor']>>, signal: AbortSignal): Promise<DownloadStream> {
    let host: { hostname: string; port?: number } = { hostname: 'invalid' };
    try {
      const u = new URL(item.downloadUrl);
      host = { hostname: u.hostname, port: u.port ? Number(u.port) : undefined };
    } catch {
      /* the downloader rejects it with its own error */
    }
    const span = tracer().startSpan('GET', {
      kind: SpanKind.CLIENT,
      attributes: { [ATTR.httpMethod]: 'GET', [ATTR.serverAddress]: host.hostname, [ATTR.serverPort]: host.port, [ATTR.zoomFileId]: item.fileId, [ATTR.zoomFileSize]: item.fileSize },
    });
    let download: DownloadStream;
    try {
      download = await context.with(trace.setSpan(context.active(), span), () => this.downloader.open({ url: item.downloadUrl, expectedSize: item.fileSize, tokens, signal }));
    } catch (err) {
      recordFailure(span, err);
      span.end();
      throw err;
    }
    let ended = false;
    const end = (err?: unknown) => {
      if (ended) return;
      ended = true;
      if (err) recordFailure(span, err);
      span.end();
    };
    download.body.once('end', () => end());
    download.body.once('error', (err) => end(err));
    download.body.once('close', () => end(download.body.readableEnded ? undefined : new Error('download stream closed early')));
    return download;
  }

  private s3Attributes(method: string, key: string) {
    return { [ATTR.rpcSystem]: 'aws-api', [ATTR.rpcService]: 'S3', [ATTR.rpcMethod]: method, [ATTR.s3Bucket]: this.objects.bucket, [ATTR.s3Key]: key };
  }

  private fail(item: FileWorkItem, reason: UploadFailureReason, message: string, attempts: number): Outcome {
    this.metrics.failures.inc({ reason });
    this.metrics.files.inc({ outcome: 'failed', file_type: fileTypeLabel(item.fileType) });
    this.logger.error({ fileId: item.fileId, canonicalId: item.canonicalId, reason, message }, 'recording file failed; sent to zoom.recording.failed');
    const { downloadToken: _omit, ...rest } = item;
    return { kind: 'failed', failure: { v: 1, fileId: item.fileId, canonicalId: item.canonicalId, reason, message, attempts, failedAt: new Date().toISOString(), item: rest } };
  }

  /** The freshest token any copy of this occurrence carried (dedup keeps it), then the work item's own. */
  private async tokensFor(item: FileWorkItem): Promise<Array<{ token: string; source: 'webhook' | 'fresher_copy'; receivedAtMs: number }>> {
    const tokens: Array<{ token: string; source: 'webhook' | 'fresher_copy'; receivedAtMs: number }> = [];
    const own = item.downloadToken ? { token: item.downloadToken, source: 'webhook' as const, receivedAtMs: Date.parse(item.tokenReceivedAt) } : undefined;
    const fresher = await this.store.getToken(item.canonicalId).catch(() => null);
    if (fresher && fresher.token !== own?.token && (!own || fresher.receivedAt > own.receivedAtMs)) {
      tokens.push({ token: fresher.token, source: 'fresher_copy', receivedAtMs: fresher.receivedAt });
    }
    if (own) tokens.push(own);
    return tokens;
  }

  private async headInSpan(key: string) {
    return inSpan('s3.head', { kind: SpanKind.CLIENT, attributes: this.s3Attributes('HeadObject', key) }, () => this.objects.head(key));
  }

  private result(item: FileWorkItem, key: string, size: number, sha256: string, etag: string, started: number, alreadyStored: boolean): UploadResult {
    return {
      v: 1,
      fileId: item.fileId,
      canonicalId: item.canonicalId,
      meetingUuid: item.meetingUuid,
      bucket: this.objects.bucket,
      key,
      size,
      sha256,
      etag,
      durationMs: Date.now() - started,
      alreadyStored,
      uploadedAt: new Date().toISOString(),
    };
  }
}

/** S3 user metadata must be ASCII: meeting UUIDs are, but be strict anyway. */
function asciiSafe(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, '_');
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
