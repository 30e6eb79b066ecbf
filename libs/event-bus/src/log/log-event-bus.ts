/**
 * The embedded event bus shared by the memory adapter (no journal) and the file log (journal): publish,
 * consume, topics and lag over a `LogState`. With a journal every change (messages, commits, topics) is
 * appended and fsynced BEFORE it is applied to the in-memory state and before the caller's promise resolves,
 * so consumers only ever see durable data and a restart replays to the same state.
 */
import {
  BusUnavailableError,
  type ConsumeOptions,
  type ConsumerHandle,
  type EventBus,
  type OutgoingMessage,
  type PublishOptions,
  type TopicSpec,
  UnknownTopicError,
} from '../event-bus.port';
import { consoleEventBusLogger, type EventBusLogger, errorMessage } from '../event-bus.logger';
import { GroupCommitter } from '@zoom-pipeline/file-journal';
import { DEFAULT_RETRY_BACKOFF, type RetryBackoff } from '../retry-backoff';
import { LogConsumer } from './log-consumer';
import type { LogEntry, LogState } from './log-state';
import { partitionForKey } from './murmur2-partition';

export interface LogEventBusOptions {
  logger?: EventBusLogger;
  /** Backoff between redeliveries of a failed batch. Default 200 ms doubling to 30 s. */
  retryBackoff?: RetryBackoff;
}

/** Where durable appends go; the memory adapter has none. */
export interface DurableJournal {
  /** Writes all frames with one write + one fsync. Called with at most one call in flight. */
  write(frames: readonly Buffer[]): Promise<void>;
  readonly healthy: boolean;
  close(): Promise<void>;
}

interface PendingAppend {
  entries: LogEntry[];
  frame: Buffer;
}

/** Upper bound on one group commit, so one write does not pin unbounded memory. */
const MAX_GROUP_COMMIT_BYTES = 16 * 1024 * 1024;

export class LogEventBus implements EventBus {
  protected readonly logger: EventBusLogger;
  private readonly backoff: RetryBackoff;
  private readonly consumers = new Map<string, LogConsumer>();
  private readonly roundRobin = new Map<string, number>();
  private readonly committer: GroupCommitter<PendingAppend> | null;
  private closed = false;

  protected constructor(
    protected readonly state: LogState,
    private readonly journal: DurableJournal | null,
    private readonly encode: ((entries: readonly LogEntry[]) => Buffer) | null,
    options: LogEventBusOptions,
  ) {
    this.logger = options.logger ?? consoleEventBusLogger();
    this.backoff = options.retryBackoff ?? DEFAULT_RETRY_BACKOFF;
    // Write-ahead: frames are written, then applied in queue order, so file order = offset order = apply order.
    // A failed write fails its own group only: nothing behind it was applied on top of it.
    this.committer = journal
      ? new GroupCommitter<PendingAppend>({
          commit: (group) => journal.write(group.map((p) => p.frame)),
          // Entries are validated before they are queued, so a throw here is a bug; it goes to that caller.
          committed: (p) => this.state.apply(p.entries),
          failed: (group, err) => {
            this.logger.error({ frames: group.length, error: errorMessage(err) }, 'event log append failed');
            return new BusUnavailableError('event log append failed', { cause: err });
          },
          onFailure: 'group',
          maxGroupBytes: MAX_GROUP_COMMIT_BYTES,
          sizeOf: (p) => p.frame.length,
        })
      : null;
  }

  async publish(messages: OutgoingMessage[], options: PublishOptions = {}): Promise<void> {
    if (this.closed) throw new BusUnavailableError('event bus is closed');
    // A caller past its deadline appends nothing; once queued, a frame goes out with its group commit (the
    // caller that gave up meanwhile answered 503, and dedup suppresses the copy its retry brings).
    if (options.signal?.aborted) throw new BusUnavailableError('publish deadline passed before the append');
    if (messages.length === 0) return;
    await this.append(this.toMessageEntries(messages));
  }

  async ensureTopics(topics: TopicSpec[]): Promise<void> {
    const entries: LogEntry[] = [];
    for (const spec of topics) {
      if (!Number.isInteger(spec.partitions) || spec.partitions < 1) {
        throw new Error(`topic ${spec.topic}: partitions must be a positive integer, got ${spec.partitions}`);
      }
      const existing = this.state.partitionCount(spec.topic);
      if (existing === undefined) {
        entries.push({ kind: 'topic', topic: spec.topic, partitions: spec.partitions });
      } else if (existing !== spec.partitions) {
        // Same rule as Kafka here: never repartition silently (keys would move to other partitions).
        this.logger.warn(
          { topic: spec.topic, existing, requested: spec.partitions },
          'topic exists with a different partition count; keeping the existing count',
        );
      }
    }
    if (entries.length > 0) await this.append(entries);
  }

  async consume(options: ConsumeOptions): Promise<ConsumerHandle> {
    if (this.closed) throw new BusUnavailableError('event bus is closed');
    for (const topic of options.topics) {
      if (this.state.partitionCount(topic) === undefined) throw new UnknownTopicError(topic);
    }
    if (this.consumers.has(options.groupId)) {
      // One process owns a group's partitions in the embedded log (there is no group coordinator to share them).
      throw new Error(`consumer group ${options.groupId} already has an active consumer in this process`);
    }
    const consumer = new LogConsumer(
      {
        state: this.state,
        append: (entries) => this.append(entries),
        toMessageEntries: (outputs) => this.toMessageEntries(outputs),
        logger: this.logger,
        backoff: this.backoff,
        onStopped: () => {
          if (this.consumers.get(options.groupId) === consumer) this.consumers.delete(options.groupId);
        },
      },
      options,
    );
    this.consumers.set(options.groupId, consumer);
    consumer.start();
    return consumer;
  }

  async isReady(): Promise<boolean> {
    return !this.closed && (this.journal?.healthy ?? true);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await Promise.all([...this.consumers.values()].map((c) => c.stop()));
    // Refuse new work only after the consumers committed their last batches.
    this.closed = true;
    await this.committer?.idle();
    await this.journal?.close();
  }

  /** Atomic, durable append: all of `entries` become visible together, after the fsync (group commit). */
  protected append(entries: LogEntry[]): Promise<void> {
    if (!this.committer || !this.encode) {
      this.state.apply(entries);
      return Promise.resolve();
    }
    if (this.closed) return Promise.reject(new BusUnavailableError('event bus is closed'));
    return this.committer.submit({ entries, frame: this.encode(entries) });
  }

  protected toMessageEntries(messages: readonly OutgoingMessage[]): LogEntry[] {
    const now = Date.now();
    return messages.map((m) => {
      const partitions = this.state.partitionCount(m.topic);
      if (partitions === undefined) throw new UnknownTopicError(m.topic);
      if (!Buffer.isBuffer(m.value)) throw new TypeError(`message value for ${m.topic} must be a Buffer`);
      return {
        kind: 'message',
        topic: m.topic,
        partition: m.key === null ? this.nextRoundRobin(m.topic, partitions) : partitionForKey(m.key, partitions),
        key: m.key,
        value: m.value,
        headers: { ...(m.headers ?? {}) },
        timestamp: now,
      };
    });
  }

  private nextRoundRobin(topic: string, partitions: number): number {
    const next = ((this.roundRobin.get(topic) ?? -1) + 1) % partitions;
    this.roundRobin.set(topic, next);
    return next;
  }
}
