import { EventPattern } from '@nestjs/microservices';
import type { Context, Span } from '@zoom-pipeline/telemetry';
import type { Batch, BatchResult, ConsumedMessage, TopicSpec } from '../event-bus.port';
import type { RecordErrorPolicy } from './record-error-policy';

/** The transport id of `EventBusTransport`: handlers declared with `@BusHandler` bind to it and to no other. */
export const BUS_TRANSPORT = Symbol('zoom-pipeline.event-bus');

/** The extras of a `@BusHandler`: everything the transport needs to run one consumer group. */
export interface BusHandlerOptions {
  /** Short name: the readiness/liveness checks are `<name>-consumer`, log lines say `<name>`. */
  name: string;
  groupId: string;
  /** Created (with these partition counts) before the consumer starts: the handled topic and every output topic. */
  ensureTopics: TopicSpec[];
  /** Default true: a group without committed offsets starts at the beginning (nothing is skipped). */
  fromBeginning?: boolean;
  maxBatchSize?: number;
  maxBatchBytes?: number;
  concurrentPartitions?: number;
  /** Extra fields for the "consuming" log line (e.g. the concurrency). */
  startedFields?: Record<string, unknown>;
  /**
   * A provider token whose value (a `Partial<BusHandlerOptions>`) is merged over these options when the consumer
   * starts: for settings that come from the configuration, which a decorator cannot see.
   */
  overrides?: string | symbol;
  /** What happens to records the handler keeps failing on (default: `DEFAULT_RECORD_ERROR_POLICY`). */
  errorPolicy?: Partial<RecordErrorPolicy>;
}

/**
 * What a handler receives: one fetched batch of one partition, plus the CONSUMER span the transport opened for
 * each record (a child of the span named by the record's `traceparent`). Work for a record runs inside
 * `withRecord` so its spans are children of that record's span.
 */
export interface HandlerBatch extends Batch {
  spanOf(msg: ConsumedMessage): Span;
  contextOf(msg: ConsumedMessage): Context;
  withRecord<T>(msg: ConsumedMessage, fn: () => T): T;
}

/**
 * Declares a consumer: `@BusHandler(TOPICS.raw, { name: 'dedup', groupId, ensureTopics })` on a controller method
 * `(batch: HandlerBatch) => Promise<BatchResult>`. The transport commits the result's outputs and offsets
 * atomically; a throw means "not processed" (the batch is redelivered with backoff).
 */
export function BusHandler(
  topic: string,
  options: BusHandlerOptions,
): (
  target: object,
  key: string | symbol,
  descriptor: TypedPropertyDescriptor<(batch: HandlerBatch) => Promise<BatchResult>>,
) => void {
  // The pattern names the handler, not only the topic: several features may consume one topic (zoom.events), each
  // in its own group, and Nest would chain handlers of one pattern behind the first one's options.
  return EventPattern<{ topic: string; handler: string }>({ topic, handler: options.name }, BUS_TRANSPORT, {
    ...options,
    topic,
  } as unknown as Record<string, unknown>);
}
