import { Inject, Injectable, type OnApplicationBootstrap, Optional } from '@nestjs/common';
import { ACCOUNT_LINK_LOOKUP, type AccountLinkLookup, NO_LINKS } from '@zoom-pipeline/accounts-store';
import {
  FILE_EVENTS,
  buildCanonicalEvent,
  canonicalId,
  canonicalKey,
  fileWorkItems,
  zoomUserOf,
} from '@zoom-pipeline/canonical';
import { type AppConfig, CONFIG } from '@zoom-pipeline/config';
import {
  type DuplicateDelivery,
  HEADERS,
  type RawDelivery,
  TOPICS,
  decodeRawDelivery,
  encodeCanonicalEvent,
  encodeDuplicateDelivery,
  encodeFileWorkItem,
  encodeUploadFailure,
  hasNoDownloadToken,
} from '@zoom-pipeline/contracts';
import { type ClaimResult, DEDUP_STORE, type DedupStore, type TokenRecord } from '@zoom-pipeline/dedup-store';
import {
  type BatchResult,
  type ConsumedMessage,
  type HandlerBatch,
  type OutgoingMessage,
} from '@zoom-pipeline/event-bus';
import { HealthService, LOGGER, METRICS_REGISTRY } from '@zoom-pipeline/service-kit';
import { ATTR, type Logger, type Span, forwardTraceHeaders, recordFailure } from '@zoom-pipeline/telemetry';
import {
  type ZoomEnvelope,
  accountIdOf,
  eventLabel,
  meetingUuidOf,
  parseEnvelope,
  partitionKey,
} from '@zoom-pipeline/zoom-webhook';
import type { Registry } from 'prom-client';
import { DedupMetrics } from './dedup.metrics';

export const DEDUP_GROUP_ID = 'zoom-pipeline-dedup';
/** Raw records that cannot be decoded (never produced by our ingress) are parked here, not dropped. */
export const RAW_DEAD_LETTER_TOPIC = TOPICS.dead;
/** Headers a dead-lettered raw record gains (its own headers are kept): why, as a code and as a short message. */
export const DEAD_LETTER_HEADERS = { code: 'zp-error-code', error: 'zp-error' } as const;

interface Prepared {
  msg: ConsumedMessage;
  delivery: RawDelivery;
  envelope: ZoomEnvelope;
  id: string;
  /**
   * `process zoom.webhooks.raw` (opened by the transport), child of the ingress span named by the record's traceparent.
   */
  span: Span;
  /** The linked app user of the event's Zoom user or account (accounts feature), looked up for emitted events only. */
  appUserId?: string;
}

/**
 * Exactly one canonical event per occurrence (SPEC §6, invariant 3).
 *
 * Crash safety: a claim's value is the source coordinates (`topic/partition/offset`) of the delivery that
 * won it. Outputs and the source offset are committed atomically by the bus (a Kafka transaction; one
 * fsynced journal record in standalone). So after a crash between claim and commit, the record comes back,
 * finds a claim that names itself (`owned`) and is emitted again; the aborted attempt was never visible.
 * A different delivery of the same occurrence finds someone else's claim and is a duplicate.
 */
@Injectable()
export class DedupService implements OnApplicationBootstrap {
  private readonly metrics: DedupMetrics;

  constructor(
    @Inject(CONFIG) private readonly config: AppConfig,
    @Inject(DEDUP_STORE) private readonly store: DedupStore,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(METRICS_REGISTRY) registry: Registry,
    private readonly health: HealthService,
    // "No links" unless the accounts feature is configured (AccountsStoreModule).
    @Optional() @Inject(ACCOUNT_LINK_LOOKUP) private readonly links: AccountLinkLookup = NO_LINKS,
  ) {
    this.metrics = new DedupMetrics(registry);
  }

  onApplicationBootstrap(): void {
    this.health.addReadiness({ name: 'dedup-store', check: () => this.store.isReady() });
  }

  /** One fetched batch of one partition → outputs, committed atomically by the bus (raw-delivery.consumer.ts). */
  async handleBatch(batch: HandlerBatch): Promise<BatchResult> {
    const outputs: OutgoingMessage[] = [];
    const prepared: Prepared[] = [];
    for (const msg of batch.messages) {
      const p = batch.withRecord(msg, () => this.prepare(msg, outputs, batch.spanOf(msg)));
      if (p) prepared.push(p);
    }
    if (prepared.length === 0) return { outputs };
    return this.claimAndEmit(batch, prepared, outputs);
  }

  private async claimAndEmit(
    batch: HandlerBatch,
    prepared: Prepared[],
    outputs: OutgoingMessage[],
  ): Promise<BatchResult> {
    const started = process.hrtime.bigint();
    let results;
    try {
      // One round trip for the whole batch (on Redis: one script call, SET NX PX per key).
      results = await this.store.claimMany(
        prepared.map((p) => ({
          key: p.id,
          owner: `${p.msg.topic}/${p.msg.partition}/${p.msg.offset}`,
          ttlMs: this.config.dedupWindowMs,
        })),
      );
      // Keep a token of each occurrence next to its claim (one offer per occurrence and batch).
      const offers = tokenOffers(prepared, results);
      await Promise.all([...offers].map(([id, t]) => this.store.offerToken(id, t, this.config.dedupWindowMs)));
      await this.routeToAppUsers(prepared, results);
    } catch (err) {
      this.metrics.storeErrors.inc();
      this.logger.warn(
        { cause: (err as Error).message, partition: batch.partition },
        'dedup store unavailable; the batch will be retried',
      );
      // The bus backs off and redelivers the same batch: nothing emitted, nothing committed. The code names the
      // cause on every record's span.
      throw Object.assign(new Error('dedup store unavailable', { cause: err }), { code: 'dedup_store_unavailable' });
    }
    this.metrics.claimSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);

    // The copies of each occurrence inside this batch, in batch order: the CloudEvent's delivery count and a
    // recording's alternates. Grouped once (a per-record scan of the batch was quadratic in the batch size).
    const copiesInBatch = new Map<string, Prepared[]>();
    for (const p of prepared) {
      const copies = copiesInBatch.get(p.id);
      if (copies) copies.push(p);
      else copiesInBatch.set(p.id, [p]);
    }

    prepared.forEach((p, i) =>
      batch.withRecord(p.msg, () => {
        // Build each record's outputs aside and add them only when all were built: a record that throws here (a
        // stack overflow serialising an odd body that got into the log) is dead-lettered, and the batch goes on. Its
        // claim stays, so its copies are suppressed as duplicates of it: the dead letter is where that occurrence is.
        const mine: OutgoingMessage[] = [];
        try {
          this.emit(p, results[i], copiesInBatch.get(p.id) ?? [p], mine);
          outputs.push(...mine);
        } catch (err) {
          this.deadLetter(p.msg, outputs, p.span, 'processing_failed', err);
        }
      }),
    );
    return { outputs };
  }

  /** Who each emitted event belongs to: one lookup per distinct Zoom user / account of the batch. */
  private async routeToAppUsers(prepared: Prepared[], results: ClaimResult[]): Promise<void> {
    if (this.links === NO_LINKS) return;
    const lookups = new Map<string, Promise<string | undefined>>();
    await Promise.all(
      prepared.map(async (p, i) => {
        if (results[i]?.status === 'duplicate') return;
        const query = { zoomUserId: zoomUserOf(p.envelope), accountId: accountIdOf(p.envelope) };
        const key = `${query.zoomUserId ?? ''}\u0000${query.accountId ?? ''}`;
        if (!lookups.has(key)) lookups.set(key, this.links.appUserFor(query));
        p.appUserId = await lookups.get(key);
      }),
    );
  }

  private emit(p: Prepared, r: ClaimResult, copiesInBatch: Prepared[], outputs: OutgoingMessage[]): void {
    p.span.setAttribute('zoom.duplicate', r.status === 'duplicate');
    // Outputs carry this span's context: the uploader's span becomes its child.
    const headers = forwardTraceHeaders(p.msg.headers);
    if (r.status === 'duplicate') {
      const dup: DuplicateDelivery = {
        v: 1,
        canonicalId: p.id,
        deliveryId: p.delivery.id,
        event: p.delivery.event,
        receivedAt: p.delivery.receivedAt,
        reason: 'duplicate_within_window',
      };
      outputs.push({
        topic: TOPICS.duplicates,
        key: p.msg.key,
        value: encodeDuplicateDelivery(dup),
        headers: { ...headers, [HEADERS.canonicalId]: p.id },
      });
      this.metrics.duplicates.inc({ event: eventLabel(p.delivery.event) });
      return;
    }
    const event = buildCanonicalEvent({
      envelope: p.envelope,
      canonicalId: p.id,
      app: p.delivery.app,
      deliveryId: p.delivery.id,
      deliveryCount: copiesInBatch.length,
      receivedAt: p.delivery.receivedAt,
      redactFields: this.config.events.redactFields,
      appUserId: p.appUserId,
    });
    outputs.push({
      topic: TOPICS.events,
      key: partitionKey(p.envelope),
      value: encodeCanonicalEvent(event),
      headers: {
        ...headers,
        [HEADERS.canonicalId]: p.id,
        [HEADERS.contentType]: 'application/cloudevents+json; charset=utf-8',
      },
    });
    this.emitFiles(p, copiesInBatch, outputs, headers);
    // Counted once every output is built: a record dead-lettered above is not a canonical event.
    this.metrics.canonical.inc({ event: eventLabel(p.delivery.event) });
    this.logger.info(
      { canonicalId: p.id, event: p.delivery.event, deliveryId: p.delivery.id, redelivered: r.status === 'owned' },
      'canonical event',
    );
  }

  /**
   * Work items of a recording event: each URL with its own delivery's token, the other copies of this batch as
   * alternates (item 6). Files that can never be fetched go to zoom.recording.failed in the same transaction;
   * nothing is dropped without a record and a count.
   */
  private emitFiles(
    p: Prepared,
    copiesInBatch: Prepared[],
    outputs: OutgoingMessage[],
    headers: Record<string, string>,
  ): void {
    const receivedAtMs = Date.parse(p.delivery.receivedAt);
    if (!FILE_EVENTS.has(p.envelope.event)) {
      // No files to build (fileWorkItems would return none); an unreadable receivedAt still fails the record, as
      // building the token time below does for a recording event.
      if (Number.isNaN(receivedAtMs)) throw new RangeError('Invalid time value');
      return;
    }
    const copies = copiesInBatch
      .filter((o) => o !== p)
      .map((o) => ({ envelope: o.envelope, receivedAt: o.delivery.receivedAt }));
    const { items, failures, skipped } = fileWorkItems({
      envelope: p.envelope,
      canonicalId: p.id,
      app: p.delivery.app,
      tokenReceivedAt: new Date(receivedAtMs).toISOString(),
      copies,
      failedAt: new Date().toISOString(),
      appUserId: p.appUserId,
    });
    const flagged = { size_unknown: 0, not_completed: 0, derived_id: 0, no_download_token: 0 };
    for (const item of items) {
      outputs.push({
        topic: TOPICS.files,
        key: item.fileId,
        value: encodeFileWorkItem(item),
        headers: { ...headers, [HEADERS.canonicalId]: p.id },
      });
      this.metrics.files.inc({ outcome: 'queued', reason: '' });
      if (item.sizeUnknown) flagged.size_unknown++;
      if (item.fileStatus !== undefined) flagged.not_completed++;
      if (item.zoomFileId === undefined) flagged.derived_id++;
      if (hasNoDownloadToken(item)) flagged.no_download_token++;
    }
    for (const [flag, n] of Object.entries(flagged)) if (n > 0) this.metrics.flaggedFiles.inc({ flag }, n);
    for (const failure of failures) {
      outputs.push({
        topic: TOPICS.failed,
        key: failure.fileId,
        value: encodeUploadFailure(failure),
        headers: { ...headers, [HEADERS.canonicalId]: p.id },
      });
      this.metrics.files.inc({ outcome: 'failed', reason: failure.reason });
    }
    for (const s of skipped) this.metrics.files.inc({ outcome: 'skipped', reason: s.reason });
    if (failures.length > 0) {
      this.logger.warn(
        { canonicalId: p.id, failed: failures.map((f) => ({ fileId: f.fileId, reason: f.reason })) },
        'recording files that cannot be fetched sent to zoom.recording.failed',
      );
    }
    if (items.length + failures.length + skipped.length > 0) {
      this.logger.info(
        {
          canonicalId: p.id,
          files: items.length,
          failed: failures.length,
          repeatedEntries: skipped.length,
          ...flagged,
        },
        'recording files queued',
      );
    }
  }

  private prepare(msg: ConsumedMessage, outputs: OutgoingMessage[], span: Span): Prepared | undefined {
    try {
      const delivery = decodeRawDelivery(msg.value, msg.headers);
      // Format 2's value is Zoom's bytes: parse those, exactly as the ingress did before its 200 (same UTF-8 and
      // BOM handling, same depth limit), rather than a lossy Buffer#toString of them.
      const parsed = parseEnvelope(delivery.v === 2 ? msg.value : delivery.body);
      if (!parsed.ok) throw new RecordError(parsed.reason, `raw body is not a Zoom envelope (${parsed.reason})`);
      const id = canonicalId(canonicalKey(parsed.envelope));
      const meetingUuid = meetingUuidOf(parsed.envelope);
      span.setAttributes({ [ATTR.zoomEvent]: delivery.event, [ATTR.zoomCanonicalId]: id });
      if (meetingUuid) span.setAttribute(ATTR.zoomMeetingUuid, meetingUuid);
      if (meetingUuid && msg.key === meetingUuid) span.setAttribute(ATTR.messagingKey, msg.key);
      return { msg, delivery, envelope: parsed.envelope, id, span };
    } catch (err) {
      this.deadLetter(msg, outputs, span, 'invalid_raw_record', err);
      return undefined;
    }
  }

  /**
   * Parks one record on the dead-letter topic with why (`zp-error-code`, `zp-error`), in the same transaction as the
   * batch's other outputs and its offset: one record that cannot be processed never blocks the ones behind it,
   * and is never dropped. The reason label is from a closed set; the code is the error's own `code`.
   */
  private deadLetter(
    msg: ConsumedMessage,
    outputs: OutgoingMessage[],
    span: Span,
    reason: 'invalid_raw_record' | 'processing_failed',
    err: unknown,
  ): void {
    const code = errorCode(err, reason);
    recordFailure(span, err, reason);
    this.metrics.deadLetters.inc({ reason });
    this.logger.error(
      { partition: msg.partition, offset: msg.offset, reason, code, cause: errorMessage(err) },
      'raw record sent to the dead-letter topic',
    );
    outputs.push({
      topic: RAW_DEAD_LETTER_TOPIC,
      key: msg.key,
      value: msg.value,
      headers: {
        ...msg.headers,
        [DEAD_LETTER_HEADERS.code]: code,
        [DEAD_LETTER_HEADERS.error]: errorMessage(err).slice(0, 200),
      },
    });
  }
}

/** A per-record failure with the code it is dead-lettered under. */
class RecordError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'RecordError';
  }
}

function errorCode(err: unknown, fallback: string): string {
  const code = typeof err === 'object' && err !== null && 'code' in err ? (err as { code: unknown }).code : undefined;
  return typeof code === 'string' && /^[a-z][a-z0-9_]{0,63}$/.test(code) ? code : fallback;
}

function errorMessage(err: unknown): string {
  // String() never throws on odd values; a message can be anything a library put there.
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

/**
 * The token to keep next to each occurrence's claim: the canonical delivery's own when this batch emits the
 * occurrence (the work items carry its URL: a token of another copy would be offered for a URL it may not open),
 * else the latest among this batch's duplicates (a retry's token outlives the original's).
 */
function tokenOffers(prepared: Prepared[], results: ReadonlyArray<{ status: string }>): Map<string, TokenRecord> {
  const canonical = new Map<string, TokenRecord | null>();
  const latest = new Map<string, TokenRecord>();
  prepared.forEach((p, i) => {
    const token = p.envelope.download_token;
    const record =
      typeof token === 'string' && token.length > 0
        ? { token, receivedAt: Date.parse(p.delivery.receivedAt) }
        : undefined;
    if (results[i]?.status !== 'duplicate') {
      if (!canonical.has(p.id)) canonical.set(p.id, record ?? null);
      return;
    }
    const current = latest.get(p.id);
    if (record && (!current || record.receivedAt >= current.receivedAt)) latest.set(p.id, record);
  });
  const offers = new Map<string, TokenRecord>();
  for (const [id, record] of latest) if (!canonical.has(id)) offers.set(id, record);
  for (const [id, record] of canonical) if (record !== null) offers.set(id, record);
  return offers;
}
