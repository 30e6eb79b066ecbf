import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { buildCanonicalEvent, canonicalId, canonicalKey, fileWorkItems } from '@zoom-pipeline/canonical';
import { type AppConfig, CONFIG } from '@zoom-pipeline/config';
import { type DuplicateDelivery, DEFAULT_PARTITIONS, HEADERS, type RawDelivery, TOPICS, decodeRawDelivery } from '@zoom-pipeline/contracts';
import { DEDUP_STORE, type DedupStore, type TokenRecord } from '@zoom-pipeline/dedup-store';
import { type Batch, type BatchResult, type ConsumedMessage, BackgroundConsumer, EVENT_BUS, type EventBus, type OutgoingMessage, type TopicSpec } from '@zoom-pipeline/event-bus';
import { HealthService, LOGGER, METRICS_REGISTRY } from '@zoom-pipeline/service-kit';
import { ATTR, type Logger, type Span, SpanKind, context, extractContext, forwardTraceHeaders, kafkaAttributes, recordFailure, trace, tracer } from '@zoom-pipeline/telemetry';
import { type ZoomEnvelope, meetingUuidOf, parseEnvelope, partitionKey } from '@zoom-pipeline/zoom-webhook';
import type { Registry } from 'prom-client';
import { DedupMetrics } from './dedup.metrics';

export const DEDUP_GROUP_ID = 'zoom-pipeline-dedup';
/** Raw records that cannot be decoded (never produced by our ingress) are parked here, not dropped. */
export const RAW_DEAD_LETTER_TOPIC = 'zoom.webhooks.dead';

interface Prepared {
  msg: ConsumedMessage;
  delivery: RawDelivery;
  envelope: ZoomEnvelope;
  id: string;
  /** `process zoom.webhooks.raw`, child of the ingress span named by the record's traceparent. */
  span: Span;
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
export class DedupService implements OnApplicationBootstrap, OnApplicationShutdown {
  private consumer?: BackgroundConsumer;
  private readonly metrics: DedupMetrics;

  constructor(
    @Inject(CONFIG) private readonly config: AppConfig,
    @Inject(EVENT_BUS) private readonly bus: EventBus,
    @Inject(DEDUP_STORE) private readonly store: DedupStore,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(METRICS_REGISTRY) registry: Registry,
    private readonly health: HealthService,
  ) {
    this.metrics = new DedupMetrics(registry, async () => (this.consumer ? this.consumer.lag() : []), DEDUP_GROUP_ID);
  }

  async onApplicationBootstrap(): Promise<void> {
    this.health.addReadiness({ name: 'dedup-store', check: () => this.store.isReady() });
    this.health.addReadiness({ name: 'event-bus', check: () => this.bus.isReady() });
    this.health.addLiveness({ name: 'dedup-consumer', isAlive: () => this.consumer?.isHealthy() ?? true });
    const topics: TopicSpec[] = [TOPICS.raw, TOPICS.events, TOPICS.duplicates, TOPICS.files].map((topic) => ({ topic, partitions: DEFAULT_PARTITIONS[topic] }));
    this.consumer = new BackgroundConsumer(
      this.bus,
      {
        groupId: DEDUP_GROUP_ID,
        topics: [TOPICS.raw],
        fromBeginning: true,
        maxBatchSize: 1000,
        // Every partition of zoom.webhooks.raw at once: the bus merges their commits into one transaction
        // (measured: 35% of the pass-through rate with one transaction per batch, 63-65% merged over 12).
        concurrentPartitions: DEFAULT_PARTITIONS[TOPICS.raw],
        eachBatch: (batch) => this.handleBatch(batch),
      },
      [...topics, { topic: RAW_DEAD_LETTER_TOPIC, partitions: 1 }],
      (err, attempt) => this.logger.warn({ attempt, cause: err.message }, 'dedup consumer not started yet; retrying'),
      // The Kafka client carries the exactly-once path (KAFKA_CLIENT): worth one line at start-up.
      () => this.logger.info({ group: DEDUP_GROUP_ID, kafkaClient: this.config.bus.kind === 'kafka' ? this.config.bus.client : undefined }, 'dedup consuming zoom.webhooks.raw'),
    );
    this.health.addReadiness({ name: 'dedup-consumer', check: async () => this.consumer?.started ?? false });
    this.consumer.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.consumer?.stop();
  }

  /** Public for tests: one fetched batch of one partition → outputs, committed atomically by the bus. */
  async handleBatch(batch: Batch): Promise<BatchResult> {
    const outputs: OutgoingMessage[] = [];
    const prepared: Prepared[] = [];
    for (const msg of batch.messages) {
      const span = this.startProcessSpan(msg);
      const p = context.with(trace.setSpan(context.active(), span), () => this.prepare(msg, outputs, span));
      if (p) prepared.push(p);
      else span.end();
    }
    if (prepared.length === 0) return { outputs };
    try {
      return await this.claimAndEmit(batch, prepared, outputs);
    } catch (err) {
      for (const p of prepared) recordFailure(p.span, err, 'dedup_store_unavailable');
      throw err;
    } finally {
      for (const p of prepared) p.span.end();
    }
  }

  /**
   * One span per record rather than kafkajs' batch span: its parent is the span in the record's
   * `traceparent` (the ingress publish span), so the trace stays one parent/child chain (invariant 8).
   */
  private startProcessSpan(msg: ConsumedMessage): Span {
    return tracer().startSpan(
      `process ${msg.topic}`,
      {
        kind: SpanKind.CONSUMER,
        attributes: kafkaAttributes(msg.topic, 'process', {
          [ATTR.messagingConsumerGroup]: DEDUP_GROUP_ID,
          [ATTR.messagingPartition]: String(msg.partition),
          [ATTR.messagingOffset]: Number(msg.offset),
        }),
      },
      extractContext(msg.headers),
    );
  }

  private async claimAndEmit(batch: Batch, prepared: Prepared[], outputs: OutgoingMessage[]): Promise<BatchResult> {
    const freshest = freshestTokens(prepared);
    const started = process.hrtime.bigint();
    let results;
    try {
      // One pipelined round trip for the whole batch (SET NX PX per key).
      results = await this.store.claimMany(prepared.map((p) => ({ key: p.id, owner: `${p.msg.topic}/${p.msg.partition}/${p.msg.offset}`, ttlMs: this.config.dedupWindowMs })));
      // Keep the freshest token of each occurrence next to its claim (one offer per occurrence and batch).
      await Promise.all([...freshest].map(([id, t]) => this.store.offerToken(id, t, this.config.dedupWindowMs)));
    } catch (err) {
      this.metrics.storeErrors.inc();
      this.logger.warn({ cause: (err as Error).message, partition: batch.partition }, 'dedup store unavailable; the batch will be retried');
      throw err; // the bus backs off and redelivers the same batch: nothing emitted, nothing committed
    }
    this.metrics.claimSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);

    if (this.config.faults.includes('dedup.crash_after_claim')) {
      // Test hook: die between claiming and emitting, the window invariant 3 must survive.
      this.logger.warn('fault hook dedup.crash_after_claim: exiting');
      this.logger.flush?.();
      process.kill(process.pid, 'SIGKILL');
    }

    // Copies of one occurrence inside this batch, for the CloudEvent's delivery count.
    const copiesInBatch = new Map<string, number>();
    for (const p of prepared) copiesInBatch.set(p.id, (copiesInBatch.get(p.id) ?? 0) + 1);

    prepared.forEach((p, i) => context.with(trace.setSpan(context.active(), p.span), () => {
      const r = results[i];
      p.span.setAttribute('zoom.duplicate', r.status === 'duplicate');
      // Outputs carry this span's context: the uploader's span becomes its child.
      const headers = forwardTraceHeaders(p.msg.headers);
      if (r.status === 'duplicate') {
        this.metrics.duplicates.inc({ event: p.delivery.event });
        const dup: DuplicateDelivery = { v: 1, canonicalId: p.id, deliveryId: p.delivery.id, event: p.delivery.event, receivedAt: p.delivery.receivedAt, reason: 'duplicate_within_window' };
        outputs.push({ topic: TOPICS.duplicates, key: p.msg.key, value: Buffer.from(JSON.stringify(dup)), headers: { ...headers, [HEADERS.canonicalId]: p.id } });
        return;
      }
      const event = buildCanonicalEvent({
        envelope: p.envelope,
        canonicalId: p.id,
        app: p.delivery.app,
        deliveryId: p.delivery.id,
        deliveryCount: copiesInBatch.get(p.id) ?? 1,
        receivedAt: p.delivery.receivedAt,
        freshestDownloadToken: freshest.get(p.id)?.token,
      });
      this.metrics.canonical.inc({ event: p.delivery.event });
      outputs.push({
        topic: TOPICS.events,
        key: partitionKey(p.envelope),
        value: Buffer.from(JSON.stringify(event)),
        headers: { ...headers, [HEADERS.canonicalId]: p.id, [HEADERS.contentType]: 'application/cloudevents+json; charset=utf-8' },
      });
      const { items, skipped } = fileWorkItems({
        envelope: p.envelope,
        canonicalId: p.id,
        app: p.delivery.app,
        tokenReceivedAt: new Date(freshest.get(p.id)?.receivedAt ?? Date.parse(p.delivery.receivedAt)).toISOString(),
        downloadToken: freshest.get(p.id)?.token,
      });
      for (const item of items) {
        outputs.push({ topic: TOPICS.files, key: item.fileId, value: Buffer.from(JSON.stringify(item)), headers: { ...headers, [HEADERS.canonicalId]: p.id } });
      }
      if (skipped.length > 0) this.logger.warn({ canonicalId: p.id, skipped }, 'recording files without id, download_url or file_size were not queued');
      this.logger.info({ canonicalId: p.id, event: p.delivery.event, deliveryId: p.delivery.id, files: items.length, redelivered: r.status === 'owned' }, 'canonical event');
    }));
    return { outputs };
  }

  private prepare(msg: ConsumedMessage, outputs: OutgoingMessage[], span: Span): Prepared | undefined {
    try {
      const delivery = decodeRawDelivery(msg.value, msg.headers);
      const parsed = parseEnvelope(delivery.body);
      if (!parsed.ok) throw new Error(`raw body is not a Zoom envelope (${parsed.reason})`);
      const id = canonicalId(canonicalKey(parsed.envelope));
      const meetingUuid = meetingUuidOf(parsed.envelope);
      span.setAttributes({ [ATTR.zoomEvent]: delivery.event, [ATTR.zoomCanonicalId]: id });
      if (meetingUuid) span.setAttribute(ATTR.zoomMeetingUuid, meetingUuid);
      if (meetingUuid && msg.key === meetingUuid) span.setAttribute(ATTR.messagingKey, msg.key);
      return { msg, delivery, envelope: parsed.envelope, id, span };
    } catch (err) {
      recordFailure(span, err, 'invalid_raw_record');
      // Invalid records are never retried forever nor dropped: park them with the reason.
      this.metrics.deadLetters.inc({ reason: 'invalid_raw_record' });
      this.logger.error({ partition: msg.partition, offset: msg.offset, cause: (err as Error).message }, 'invalid raw record sent to the dead-letter topic');
      outputs.push({ topic: RAW_DEAD_LETTER_TOPIC, key: msg.key, value: msg.value, headers: { ...msg.headers, 'zp-error': (err as Error).message.slice(0, 200) } });
      return undefined;
    }
  }
}

/** The latest download token among this batch's copies of each occurrence (the store keeps it across batches). */
function freshestTokens(prepared: Prepared[]): Map<string, TokenRecord> {
  const best = new Map<string, TokenRecord>();
  for (const p of prepared) {
    const token = p.envelope.download_token;
    if (typeof token !== 'string' || token.length === 0) continue;
    const receivedAt = Date.parse(p.delivery.receivedAt);
    const current = best.get(p.id);
    if (!current || receivedAt >= current.receivedAt) best.set(p.id, { token, receivedAt });
  }
  return best;
}
