/**
 * The event-bus port. Narrow on purpose: publish, consume-with-atomic-commit, topics, health.
 * Adapters: Kafka (@platformatic/kafka or kafkajs), file log (standalone, fsync before resolve), memory (unit tests).
 * This file imports no client library.
 */

export interface BusMessage {
  /** Record key: routes to a partition (all messages of one key go to one partition, in order). */
  key: string | null;
  value: Buffer;
  headers?: Record<string, string>;
}

export interface OutgoingMessage extends BusMessage {
  topic: string;
}

export interface ConsumedMessage extends BusMessage {
  topic: string;
  partition: number;
  /** Offset as a decimal string (Kafka offsets exceed 2^53 in theory). */
  offset: string;
  /** Append time, epoch ms. */
  timestamp: number;
  headers: Record<string, string>;
}

export interface Batch {
  topic: string;
  partition: number;
  messages: ConsumedMessage[];
  /** Keep group membership alive during long work; adapters also do it on a timer. */
  heartbeat(): Promise<void>;
  /** False once the consumer is stopping or lost the partition: stop work, return what is done. */
  isActive(): boolean;
  /**
   * Changes whenever this consumer (re)acquires the partition (Kafka: a new group generation). Two batches with
   * the same value were handed out under one ownership, so no other member committed the partition in between:
   * a stateful handler may keep in-memory state across them (attendance-feature). Absent: assume nothing.
   */
  assignment?: string;
}

/**
 * What a batch handler returns: messages to publish, and how far to commit.
 * The adapter publishes `outputs` and commits the source offsets up to `commitThrough` (inclusive)
 * ATOMICALLY (Kafka transaction / one fsynced journal record): after a crash either both happened or
 * neither did. Omit `commitThrough` to commit the whole batch.
 */
export interface BatchResult {
  outputs: OutgoingMessage[];
  /** Offset of the last message processed; later messages are redelivered. */
  commitThrough?: string;
}

/** Records per handler call when ConsumeOptions.maxBatchSize is not set (every adapter). */
export const DEFAULT_MAX_BATCH_SIZE = 500;

export interface ConsumeOptions {
  groupId: string;
  topics: string[];
  /** Where a group without committed offsets starts. Default: earliest (nothing is skipped). */
  fromBeginning?: boolean;
  /**
   * Handles one batch of one partition. Throwing means "not processed": nothing is committed, the
   * adapter backs off (exponential, capped) and redelivers the same messages. The handler owns its
   * retry policy and sends terminal failures to a dead-letter topic through `outputs`.
   */
  eachBatch(batch: Batch): Promise<BatchResult>;
  /** Upper bound on messages handed to one eachBatch call. */
  maxBatchSize?: number;
  /**
   * Upper bound on the summed value bytes handed to one eachBatch call (a single larger message still goes
   * alone). Keeps a batch's outputs, committed together, under the broker's record-batch limit (Kafka's
   * `message.max.bytes`, 1 MiB by default) when they go to one partition. Default 512 KiB.
   */
  maxBatchBytes?: number;
  /**
   * Partitions this member handles at once (Kafka adapter; the file log always runs its partitions
   * concurrently). Default: the bus setting (4). More partitions in flight let the Kafka adapter put more
   * batches into one transaction.
   */
  concurrentPartitions?: number;
}

export const DEFAULT_MAX_BATCH_BYTES = 512 * 1024;

/** Splits `messages` into consecutive chunks of at most `maxCount` messages and `maxBytes` value bytes. */
export function chunkMessages<T extends { value: Buffer }>(messages: T[], maxCount: number, maxBytes: number): T[][] {
  const chunks: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const m of messages) {
    if (current.length > 0 && (current.length >= maxCount || bytes + m.value.length > maxBytes)) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(m);
    bytes += m.value.length;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

export interface ConsumerHandle {
  stop(): Promise<void>;
  /** True while the loop makes progress or is idle waiting for data. */
  isHealthy(): boolean;
  /** Lag per topic-partition (latest offset - committed), for metrics. */
  lag(): Promise<Array<{ topic: string; partition: number; lag: number }>>;
}

export interface TopicSpec {
  topic: string;
  partitions: number;
  /**
   * Keep only the latest record per key (Kafka `cleanup.policy=compact`): for state and link topics read from the
   * start. Applied when the topic is created; the embedded and memory logs keep every record, which reads the same.
   */
  compacted?: boolean;
}

/** How long a publisher waits for the ack. */
export interface PublishOptions {
  /**
   * The caller's deadline (the ingress's ack deadline): when it aborts, a publish not yet acknowledged rejects
   * with BusUnavailableError and the bus drops what it still holds of it (an abandoned send may land later; the
   * caller answered 503, Zoom retries and dedup suppresses the copy). The bus starts no timer of its own for it.
   * Without one, the Kafka bus applies its `publishTimeoutMs`.
   */
  signal?: AbortSignal;
}

export interface EventBus {
  /** Resolves only when every message is durably appended (Kafka acks=all; file log fsynced). */
  publish(messages: OutgoingMessage[], options?: PublishOptions): Promise<void>;
  consume(options: ConsumeOptions): Promise<ConsumerHandle>;
  ensureTopics(topics: TopicSpec[]): Promise<void>;
  /** Cheap reachability check for /readyz. */
  isReady(): Promise<boolean>;
  /** Flush pending publishes, stop consumers, disconnect. */
  close(): Promise<void>;
}

export const EVENT_BUS = Symbol('EVENT_BUS');

/** Thrown by publish when the log cannot take the append (broker down, deadline passed). */
export class BusUnavailableError extends Error {
  readonly code = 'bus_unavailable';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BusUnavailableError';
  }
}

/**
 * Thrown by publish (and consume) when a topic does not exist. Topics are created up front with explicit
 * partition counts (ensureTopics, the Helm chart); auto-creation would pick an arbitrary count and break
 * key routing, so adapters refuse instead of creating.
 */
export class UnknownTopicError extends Error {
  readonly code = 'unknown_topic';
  constructor(readonly topic: string) {
    super(`topic "${topic}" does not exist; create it with ensureTopics before publishing or consuming`);
    this.name = 'UnknownTopicError';
  }
}
