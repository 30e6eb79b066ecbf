import { sleep } from '@zoom-pipeline/async-kit';
import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { hostname } from 'node:os';
import { type BeforeApplicationShutdown, Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { fileReadiness, objectKey, uploadFileTypeFilter } from '@zoom-pipeline/canonical';
import { type AppConfig, CONFIG } from '@zoom-pipeline/config';
import {
  ContractViolation,
  type FileWorkItem,
  TOPICS,
  type UploadFailure,
  type UploadFailureReason,
  type UploadResult,
  decodeFileWorkItem,
  encodeUploadFailure,
  encodeUploadResult,
  withoutCredentials,
} from '@zoom-pipeline/contracts';
import { DEDUP_STORE, type DedupStore } from '@zoom-pipeline/dedup-store';
import {
  type Batch,
  type BatchResult,
  type ConsumedMessage,
  type HandlerBatch,
  type OutgoingMessage,
} from '@zoom-pipeline/event-bus';
import { OBJECT_STORE, type ObjectStore, decodeMetadataValue, encodeMetadataValue } from '@zoom-pipeline/object-store';
import { HealthService, LOGGER, METRICS_REGISTRY } from '@zoom-pipeline/service-kit';
import {
  ATTR,
  type Logger,
  type Span,
  SpanKind,
  context,
  inSpan,
  forwardTraceHeaders,
  recordFailure,
  trace,
  tracer,
} from '@zoom-pipeline/telemetry';
import {
  type DownloadStream,
  type DownloadToken,
  RECORDING_DOWNLOADER,
  type RecordingDownloader,
} from '@zoom-pipeline/zoom-download';
import type { Registry } from 'prom-client';
import { type DownloadPair, credentialRefused, downloadPairs } from './download-pairs';
import { FileBusyError, classifyUploadError, nextRetryAt } from './error-policy';
import { Semaphore } from './semaphore';
import { UploaderMetrics } from './uploader.metrics';

export const UPLOADER_GROUP_ID = 'zoom-pipeline-uploader';

/** Record headers that carry a file's retry state across its delayed retries (see handleBatch). */
export const RETRY_HEADERS = {
  /** Epoch ms of the first transient failure: the budget counts from it. */
  since: 'zp-retry-since',
  /** Transient failures so far. */
  attempt: 'zp-retry-attempt',
  /** Epoch ms before which the record is not tried again. */
  at: 'zp-retry-at',
} as const;

/** Longest a batch with only not-yet-due retries waits before handing them back to the log (rebalance-safe). */
const PARK_WAIT_MAX_MS = 10_000;
/** Zoom download tokens live 24 h (docs/ZOOM-FACTS.md §4): without S2S, no retry can succeed after that. */
const TOKEN_LIFETIME_MS = 24 * 60 * 60 * 1000;

/** What became of one record. `abandoned`: shutdown came first; it is neither committed nor reported. */
type Outcome =
  | { kind: 'stored'; result: UploadResult }
  | { kind: 'skipped' }
  | { kind: 'failed'; failure: UploadFailure }
  | { kind: 'retry'; headers: Record<string, string> }
  | { kind: 'abandoned' };

/** The retry state a record carries; absent on a first delivery. */
interface RetryState {
  since: number;
  attempt: number;
  at: number;
}

/**
 * Stores every selected file of every canonical recording exactly once (SPEC invariants 4-6).
 * - An object that already exists with the same Zoom file id and size is not uploaded again (idempotent
 *   redelivery after a crash, or a second pod that lost the race); one with another file id is never
 *   overwritten (dead-lettered as `object_key_collision`).
 * - A lease per file id in the dedup store, held by one owner per transfer and renewed while it runs, keeps
 *   two transfers of one file apart, also two in the same pod.
 * - Every record of a batch settles on its own (no Promise.all: one failure never restarts its siblings):
 *   stored, skipped, dead-lettered on zoom.recording.failed (permanent cause, or budget spent), or a delayed
 *   retry (transient cause). The offset is committed, atomically with those outputs, once each record has one.
 *
 * Delayed retries keep a partition moving: a transient failure re-appends the record to zoom.recording.files
 * (same key, so same partition) with its retry state in headers, in the same transaction as the commit of the
 * original, so the records behind it go on at once. When the consumer reaches it before its time, it is
 * handed back to the log again (or, when the batch has nothing else, waited for at most PARK_WAIT_MAX_MS), so a
 * file waiting out a 10-minute Zoom outage costs one small record per pass, never a blocked partition.
 */
@Injectable()
export class UploadService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly metrics: UploaderMetrics;
  private readonly semaphore: Semaphore;
  private readonly selected: (fileType: string) => boolean;
  private readonly podId = `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  private readonly abort = new AbortController();
  /** Files being transferred by this process now: a second record of one of them waits (issue #5). */
  private readonly inFlight = new Set<string>();
  /**
   * Outcomes of records whose batch result was not committed yet, by partition and offset: when publishing a
   * batch's outputs fails and the bus redelivers it, records that already settled are not run again.
   */
  private readonly settled = new Map<number, Map<string, Outcome>>();

  constructor(
    @Inject(CONFIG) private readonly config: AppConfig,
    @Inject(DEDUP_STORE) private readonly store: DedupStore,
    @Inject(OBJECT_STORE) private readonly objects: ObjectStore,
    @Inject(RECORDING_DOWNLOADER) private readonly downloader: RecordingDownloader,
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
   * Before the transport stops the consumer (which waits for the batch in hand): stop taking work at once.
   * Queued records are abandoned without starting (they used to start after the abort, on an already-aborted
   * signal, and run to the end). In-flight transfers are aborted (their multipart uploads too); nothing
   * unfinished is committed, so another pod or the next start picks it up.
   */
  beforeApplicationShutdown(): void {
    this.abort.abort();
  }

  /** One fetched batch (file-work.consumer.ts): every record settles on its own, then the batch is committed. */
  async handleBatch(batch: HandlerBatch): Promise<BatchResult> {
    const memo = this.memoFor(batch);
    const waiting = batch.messages.map(notBefore);
    if (memo.size === 0 && waiting.every((at) => at > Date.now())) {
      // Nothing but retries that are not due yet: wait a little for the first (never long: a rebalance needs
      // us back), rather than handing them straight back to the log in a tight loop.
      await this.park(Math.min(...waiting) - Date.now(), batch);
    }
    const outcomes = await Promise.allSettled(
      batch.messages.map(async (msg): Promise<Outcome> => {
        const known = memo.get(msg.offset);
        if (known) return known;
        // Not due: back to the log as it is.
        if (notBefore(msg) > Date.now()) return { kind: 'retry', headers: msg.headers };
        const outcome = await this.semaphore.run(() =>
          this.abort.signal.aborted || !batch.isActive()
            ? Promise.resolve<Outcome>({ kind: 'abandoned' })
            : this.tracedMessage(msg, batch),
        );
        if (outcome.kind !== 'abandoned') memo.set(msg.offset, outcome);
        return outcome;
      }),
    );
    const outputs: OutgoingMessage[] = [];
    let commitThrough: string | undefined;
    for (const [i, settled] of outcomes.entries()) {
      const msg = batch.messages[i];
      // tracedMessage settles every error into an outcome; a rejection here is a bug, retried with the batch.
      if (settled.status === 'rejected') throw settled.reason;
      const outcome = settled.value;
      if (outcome.kind === 'abandoned') break;
      commitThrough = msg.offset;
      const headers = forwardTraceHeaders(msg.headers, batch.contextOf(msg));
      if (outcome.kind === 'stored')
        outputs.push({ topic: TOPICS.uploaded, key: msg.key, value: encodeUploadResult(outcome.result), headers });
      if (outcome.kind === 'failed')
        outputs.push({ topic: TOPICS.failed, key: msg.key, value: encodeUploadFailure(outcome.failure), headers });
      // The retry keeps the record's own trace parent (dedup's span), so its later try joins the same trace.
      if (outcome.kind === 'retry')
        outputs.push({ topic: TOPICS.files, key: msg.key, value: msg.value, headers: outcome.headers });
    }
    // Shutdown before the first record settled: commit nothing (throwing is the bus's "not processed").
    // Transient: the consumer runtime must never treat it as the records' own failure.
    if (commitThrough === undefined)
      throw Object.assign(new Error('uploader stopping: batch handed back uncommitted'), { transient: true });
    return { outputs, commitThrough };
  }

  /** Outcomes kept for this partition, minus those of offsets before this batch (committed since). */
  private memoFor(batch: Batch): Map<string, Outcome> {
    let memo = this.settled.get(batch.partition);
    if (!memo) {
      memo = new Map();
      this.settled.set(batch.partition, memo);
    }
    const first = BigInt(batch.messages[0]?.offset ?? '0');
    for (const offset of memo.keys()) if (BigInt(offset) < first) memo.delete(offset);
    return memo;
  }

  /** Sleeps up to `ms` (at most PARK_WAIT_MAX_MS), waking early on shutdown or loss of the partition. */
  private async park(ms: number, batch: Batch): Promise<void> {
    const until = Date.now() + Math.min(Math.max(0, ms), PARK_WAIT_MAX_MS);
    while (Date.now() < until && !this.abort.signal.aborted && batch.isActive()) {
      await sleep(Math.min(500, until - Date.now()));
    }
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
      // With the other copies' URL/token pairs: the fallback when this delivery's pair is refused (download-pairs.ts).
      item = decodeFileWorkItem(msg.value, { alternates: true });
    } catch (err) {
      const message = err instanceof ContractViolation ? err.message : 'work item is not valid JSON';
      this.metrics.failures.inc({ reason: 'invalid_work_item' });
      return {
        kind: 'failed',
        failure: {
          v: 1,
          fileId: msg.key ?? 'unknown',
          canonicalId: 'unknown',
          reason: 'invalid_work_item',
          message,
          attempts: 0,
          failedAt: new Date().toISOString(),
        },
      };
    }
    span.setAttributes({
      [ATTR.zoomFileId]: item.fileId,
      [ATTR.zoomMeetingUuid]: item.meetingUuid,
      [ATTR.zoomCanonicalId]: item.canonicalId,
      'zoom.file_type': item.fileType,
    });
    if (msg.key === item.fileId) span.setAttribute(ATTR.messagingKey, msg.key);
    if (!this.selected(item.fileType)) {
      this.metrics.files.inc({ outcome: 'skipped_type', file_type: item.fileType });
      return { kind: 'skipped' };
    }
    const retry = retryStateOf(msg);
    // Before any request: no credential at all, a file Zoom has not finished, a file Zoom gave no size.
    const readiness = fileReadiness({
      item,
      nowMs: Date.now(),
      oauthConfigured: this.config.download.s2s !== undefined || this.linkedOwner(item) !== undefined,
    });
    if (readiness.action === 'fail') return this.fail(item, readiness.reason, readiness.message, retry?.attempt ?? 0);
    if (readiness.action === 'wait') {
      // Not stored as final: back to the log until Zoom's later event (a new occurrence) or the bound in fileReadiness.
      const since = retry?.since ?? Date.now();
      const attempt = (retry?.attempt ?? 0) + 1;
      return {
        kind: 'retry',
        headers: {
          ...msg.headers,
          [RETRY_HEADERS.since]: String(since),
          [RETRY_HEADERS.attempt]: String(attempt),
          [RETRY_HEADERS.at]: String(Date.now() + readiness.retryAfterMs),
        },
      };
    }
    try {
      // expectedSize undefined (Zoom sent no file_size): stored as received; the downloader still holds it to any
      // size the server declares, and the SHA-256 of what was stored is recorded either way.
      return await this.processItem(item, readiness.expectedSize, batch, retry);
    } catch (err) {
      if (this.abort.signal.aborted || !batch.isActive()) return { kind: 'abandoned' };
      return this.settleFailure(item, err, retry, msg.headers);
    }
  }

  /** A recording of a linked app user (accounts feature): the downloader may use that user's OAuth token. */
  private linkedOwner(item: FileWorkItem): { zoomUserId: string; accountId: string } | undefined {
    return item.appUserId !== undefined && this.config.accounts !== undefined
      ? { zoomUserId: item.hostId, accountId: item.accountId }
      : undefined;
  }

  /** Dead-letter now (permanent cause, or budget spent), or schedule a delayed retry (see the class comment). */
  private settleFailure(
    item: FileWorkItem,
    err: unknown,
    retry: RetryState | undefined,
    headers: Record<string, string>,
  ): Outcome {
    const cls = classifyUploadError(err);
    const attempts = (retry?.attempt ?? 0) + 1;
    if (cls.kind === 'permanent') return this.fail(item, cls.reason, cls.message, attempts);
    const now = Date.now();
    // Waiting for another transfer of the file (which may legitimately take hours) does not spend the budget:
    // that transfer's lease expires if it dies, so this wait cannot last forever.
    const since = cls.reason === 'file_busy' ? now : (retry?.since ?? now);
    let deadline = since + this.config.upload.retryBudgetMs;
    // Without S2S the webhook's token is all we have: no point retrying past its life.
    const tokenAt = Date.parse(item.tokenReceivedAt);
    if (!this.config.download.s2s && this.linkedOwner(item) === undefined && Number.isFinite(tokenAt))
      deadline = Math.min(deadline, tokenAt + TOKEN_LIFETIME_MS);
    const at = nextRetryAt(
      { budgetMs: this.config.upload.retryBudgetMs, maxDelayMs: this.config.upload.retryMaxDelayMs },
      attempts,
      now,
      deadline,
      cls.retryAfterMs,
    );
    if (at === undefined) {
      return this.fail(
        item,
        'retry_budget_exhausted',
        `${cls.message} (still failing after ${attempts} attempts over ${Math.round((now - since) / 1000)} s)`,
        attempts,
      );
    }
    this.metrics.retries.inc({ reason: cls.reason });
    this.logger.warn(
      { fileId: item.fileId, reason: cls.reason, cause: cls.message, attempt: attempts, retryInMs: at - now },
      'recording file failed transiently; retrying later',
    );
    return {
      kind: 'retry',
      headers: {
        ...headers,
        [RETRY_HEADERS.since]: String(since),
        [RETRY_HEADERS.attempt]: String(attempts),
        [RETRY_HEADERS.at]: String(at),
      },
    };
  }

  private async processItem(
    item: FileWorkItem,
    expectedSize: number | undefined,
    batch: Batch,
    retry: RetryState | undefined,
  ): Promise<Outcome> {
    const key = objectKey(this.config.upload.objectKeyTemplate, item);
    const started = Date.now();
    const existing = await this.headInSpan(key);
    if (existing) {
      const storedId = decodeMetadataValue(existing.metadata['zoom-file-id']);
      // Objects are all or nothing, so one of this file is complete; of unknown size, whatever size it has. Without
      // the SHA-256 the store should have recorded (a crash between an S3 object and its sidecar), it is stored again.
      const sizeMatches = expectedSize === undefined || existing.size === expectedSize;
      const hashMissing =
        existing.sha256 === undefined &&
        this.config.objectStore.kind === 's3' &&
        this.config.objectStore.sha256Location === 'sidecar';
      if (storedId === item.fileId && sizeMatches && !hashMissing) {
        this.metrics.files.inc({ outcome: 'already_stored', file_type: item.fileType });
        return {
          kind: 'stored',
          result: this.result(item, key, existing.size, existing.sha256 ?? '', existing.etag, started, true),
        };
      }
      if (storedId !== item.fileId) {
        // Another file's object: replacing it would lose that recording and report both as stored.
        return this.fail(
          item,
          'object_key_collision',
          'the object key already holds another recording file ' +
            `(${storedId === undefined ? 'no file id' : 'a different file id'}); not overwritten`,
          (retry?.attempt ?? 0) + 1,
        );
      }
    }

    // One owner per transfer, not per pod: the same pod re-acquiring its own lease started a second
    // transfer of a file whose first was still running, and its cleanup aborted the first's upload.
    if (this.inFlight.has(item.fileId)) throw new FileBusyError(item.fileId);
    const lease = `upload:${item.fileId}`;
    const owner = `${this.podId}-${randomUUID().slice(0, 8)}`;
    if (!(await this.store.acquireLease(lease, owner, this.config.upload.leaseTtlMs)))
      throw new FileBusyError(item.fileId);
    this.inFlight.add(item.fileId);
    const transfer = new AbortController();
    const onShutdown = () => transfer.abort();
    this.abort.signal.addEventListener('abort', onShutdown);
    const renew = setInterval(
      () => {
        void batch.heartbeat().catch(() => undefined);
        this.store.renewLease(lease, owner, this.config.upload.leaseTtlMs).then(
          (held) => {
            if (!held) {
              this.logger.warn({ fileId: item.fileId }, 'upload lease lost; aborting this transfer');
              transfer.abort();
            }
          },
          () => undefined, // a store blip: the lease TTL covers a few missed renewals
        );
      },
      Math.max(1_000, Math.floor(this.config.upload.leaseTtlMs / 3)),
    );
    this.metrics.inFlight.inc();
    try {
      return await this.transfer(item, key, expectedSize, started, transfer.signal);
    } finally {
      clearInterval(renew);
      this.metrics.inFlight.dec();
      this.inFlight.delete(item.fileId);
      this.abort.signal.removeEventListener('abort', onShutdown);
      await this.store.releaseLease(lease, owner).catch(() => undefined);
    }
  }

  /** One attempt; any failure is thrown and settled by its cause in processMessage. */
  private async transfer(
    item: FileWorkItem,
    key: string,
    expectedSize: number | undefined,
    started: number,
    signal: AbortSignal,
  ): Promise<Outcome> {
    // We hold the file's lease: any open multipart upload of this key belongs to a transfer that died.
    const aborted = await this.objects.abortIncompleteUploads(key);
    if (aborted > 0)
      this.logger.info({ fileId: item.fileId, aborted }, 'aborted multipart uploads left by a crashed uploader');
    const download = await this.openFirstAccepted(
      item,
      downloadPairs(item, await this.tokensFor(item)),
      expectedSize,
      signal,
    );
    const stored = await inSpan(
      's3.put',
      { kind: SpanKind.CLIENT, attributes: this.s3Attributes('PutObject', key) },
      () =>
        this.objects.put({
          key,
          body: download.body,
          contentLength: expectedSize,
          contentType: download.contentType,
          // Values travel as HTTP headers: a non-ASCII file id is stored encoded, not refused forever.
          metadata: {
            'zoom-file-id': encodeMetadataValue(item.fileId),
            'zoom-meeting-uuid': encodeMetadataValue(item.meetingUuid),
            'zoom-canonical-id': encodeMetadataValue(item.canonicalId),
            'zoom-file-type': encodeMetadataValue(item.fileType),
          },
          signal,
        }),
    );
    this.metrics.bytes.inc(stored.size);
    this.metrics.files.inc({ outcome: 'uploaded', file_type: item.fileType });
    this.metrics.seconds.observe({ outcome: 'uploaded' }, (Date.now() - started) / 1000);
    this.logger.info(
      { fileId: item.fileId, canonicalId: item.canonicalId, key, size: stored.size, ms: Date.now() - started },
      'recording file stored',
    );
    return { kind: 'stored', result: this.result(item, key, stored.size, stored.sha256, stored.etag, started, false) };
  }

  /**
   * Opens the file with its own URL/token pair; when that credential is refused (401/403, Zoom's html page), with
   * each other copy's own pair in turn. The last refusal (or any other error) is what the caller settles.
   */
  private async openFirstAccepted(
    item: FileWorkItem,
    pairs: DownloadPair[],
    expectedSize: number | undefined,
    signal: AbortSignal,
  ): Promise<DownloadStream> {
    for (const [i, pair] of pairs.entries()) {
      try {
        return await this.openDownload(item, pair, expectedSize, signal);
      } catch (err) {
        if (i === pairs.length - 1 || !credentialRefused(err)) throw err;
        this.logger.warn(
          { fileId: item.fileId, cause: (err as Error).message, next: pairs[i + 1]!.kind },
          "download credential refused; trying another copy's URL and token",
        );
      }
    }
    throw new Error('unreachable: no download pair');
  }

  /**
   * A `GET` CLIENT span from the request until the body ends (it streams into the S3 upload). Attributes
   * name the host and the file only: never the URL's path token or query, nor the download token.
   */
  private async openDownload(
    item: FileWorkItem,
    pair: DownloadPair,
    expectedSize: number | undefined,
    signal: AbortSignal,
  ): Promise<DownloadStream> {
    let host: { hostname: string; port?: number } = { hostname: 'invalid' };
    try {
      const u = new URL(pair.url);
      host = { hostname: u.hostname, port: u.port ? Number(u.port) : undefined };
    } catch {
      /* the downloader rejects it with its own error */
    }
    const span = tracer().startSpan('GET', {
      kind: SpanKind.CLIENT,
      attributes: {
        [ATTR.httpMethod]: 'GET',
        [ATTR.serverAddress]: host.hostname,
        [ATTR.serverPort]: host.port,
        [ATTR.zoomFileId]: item.fileId,
        [ATTR.zoomFileSize]: expectedSize,
      },
    });
    let download: DownloadStream;
    try {
      download = await context.with(trace.setSpan(context.active(), span), () =>
        this.downloader.open({
          url: pair.url,
          expectedSize,
          tokens: pair.tokens,
          signal,
          owner: this.linkedOwner(item),
        }),
      );
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
    download.body.once('close', () =>
      end(download.body.readableEnded ? undefined : new Error('download stream closed early')),
    );
    return download;
  }

  private s3Attributes(method: string, key: string) {
    return {
      [ATTR.rpcSystem]: 'aws-api',
      [ATTR.rpcService]: 'S3',
      [ATTR.rpcMethod]: method,
      [ATTR.s3Bucket]: this.objects.bucket,
      [ATTR.s3Key]: key,
    };
  }

  private fail(item: FileWorkItem, reason: UploadFailureReason, message: string, attempts: number): Outcome {
    this.metrics.failures.inc({ reason });
    this.metrics.files.inc({ outcome: 'failed', file_type: item.fileType });
    this.logger.error(
      { fileId: item.fileId, canonicalId: item.canonicalId, reason, message },
      'recording file failed; sent to zoom.recording.failed',
    );
    return {
      kind: 'failed',
      failure: {
        v: 1,
        fileId: item.fileId,
        canonicalId: item.canonicalId,
        reason,
        message,
        attempts,
        failedAt: new Date().toISOString(),
        item: withoutCredentials(item),
      },
    };
  }

  /** The freshest token any copy of this occurrence carried (dedup keeps it), then the work item's own. */
  private async tokensFor(item: FileWorkItem): Promise<DownloadToken[]> {
    const tokens: DownloadToken[] = [];
    const own = item.downloadToken
      ? { token: item.downloadToken, source: 'webhook' as const, receivedAtMs: Date.parse(item.tokenReceivedAt) }
      : undefined;
    const fresher = await this.store.getToken(item.canonicalId).catch(() => null);
    if (fresher && fresher.token !== own?.token && (!own || fresher.receivedAt > own.receivedAtMs)) {
      tokens.push({ token: fresher.token, source: 'fresher_copy', receivedAtMs: fresher.receivedAt });
    }
    if (own) tokens.push(own);
    return tokens;
  }

  private async headInSpan(key: string) {
    return inSpan('s3.head', { kind: SpanKind.CLIENT, attributes: this.s3Attributes('HeadObject', key) }, () =>
      this.objects.head(key),
    );
  }

  private result(
    item: FileWorkItem,
    key: string,
    size: number,
    sha256: string,
    etag: string,
    started: number,
    alreadyStored: boolean,
  ): UploadResult {
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

function retryStateOf(msg: ConsumedMessage): RetryState | undefined {
  const since = Number(msg.headers[RETRY_HEADERS.since]);
  const attempt = Number(msg.headers[RETRY_HEADERS.attempt]);
  if (!Number.isFinite(since) || !Number.isFinite(attempt) || msg.headers[RETRY_HEADERS.since] === undefined)
    return undefined;
  return { since, attempt, at: notBefore(msg) };
}

function notBefore(msg: ConsumedMessage): number {
  const at = Number(msg.headers[RETRY_HEADERS.at]);
  return Number.isFinite(at) ? at : 0;
}
