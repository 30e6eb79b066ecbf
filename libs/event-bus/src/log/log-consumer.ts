/**
 * Consumer of the embedded log (memory and file adapters). One loop per topic-partition, so a slow partition
 * (a long upload) never holds up the others, and at most one batch per partition in flight, so per-key order
 * holds. The rules match the Kafka adapter:
 * - a handler that throws gets the SAME messages again after an exponential backoff, nothing is committed
 *   meanwhile and nothing is skipped;
 * - a returned result is committed together with its outputs as ONE atomic append (one journal frame);
 * - messages after `commitThrough` are delivered again in the next batch.
 */
import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import {
  DEFAULT_MAX_BATCH_SIZE,
  type Batch,
  type BatchResult,
  type ConsumedMessage,
  type ConsumeOptions,
  type ConsumerHandle,
  DEFAULT_MAX_BATCH_BYTES,
  chunkMessages,
} from '../event-bus.port';
import { type EventBusLogger, errorMessage } from '../event-bus.logger';
import { backoffDelay, type RetryBackoff, sleep } from '../retry-backoff';
import { type LogEntry, type LogState } from './log-state';

export interface LogConsumerDeps {
  state: LogState;
  /** Durable, atomic append (fsynced in the file log) that applies `entries` to `state` once durable. */
  append(entries: LogEntry[]): Promise<void>;
  /** Turns handler outputs into message entries; throws UnknownTopicError for a topic that does not exist. */
  toMessageEntries(outputs: BatchResult['outputs']): LogEntry[];
  logger: EventBusLogger;
  backoff: RetryBackoff;
  onStopped(): void;
}

/** How often a stopping consumer retries the commit of a finished batch before leaving it for redelivery. */
const COMMIT_ATTEMPTS_WHEN_STOPPING = 3;

export class LogConsumer implements ConsumerHandle {
  /** Batch.assignment: one process owns all partitions of its group for the consumer's lifetime. */
  private readonly instanceId = randomUUID();
  private running = true;
  private failed = false;
  private readonly abort = new AbortController();
  private readonly loops: Promise<void>[] = [];
  /** Where each partition started when the group had no committed offset (for lag). */
  private readonly startPositions = new Map<string, number>();
  private stopping: Promise<void> | null = null;

  constructor(
    private readonly deps: LogConsumerDeps,
    private readonly options: ConsumeOptions,
  ) {}

  start(): void {
    const { state } = this.deps;
    for (const topic of this.options.topics) {
      const partitions = state.partitionCount(topic) ?? 0;
      for (let partition = 0; partition < partitions; partition++) {
        // Port default: earliest, so a new group misses nothing.
        const start =
          state.committedOffset(this.options.groupId, topic, partition) ??
          (this.options.fromBeginning === false ? state.endOffset(topic, partition) : 0);
        this.startPositions.set(`${topic}\u0000${partition}`, start);
        this.loops.push(
          this.run(topic, partition, start).catch((err: unknown) => {
            this.failed = true;
            this.deps.logger.error(
              { groupId: this.options.groupId, topic, partition, error: errorMessage(err) },
              'event log consumer loop died',
            );
          }),
        );
      }
    }
    // Each partition loop waits on the stop signal (an append or a backoff sleep), one listener at a time: a topic
    // with more than 10 partitions is by design, not the leak Node warns about at 11.
    setMaxListeners(Math.max(10, this.loops.length + 1), this.abort.signal);
  }

  stop(): Promise<void> {
    if (!this.stopping) {
      // Stop taking new batches and cut backoff sleeps short; the batch in progress finishes (isActive() turns
      // false so long work can wrap up) and is committed before stop resolves.
      this.running = false;
      this.abort.abort();
      this.stopping = Promise.all(this.loops).then(() => this.deps.onStopped());
    }
    return this.stopping;
  }

  isHealthy(): boolean {
    return this.running && !this.failed;
  }

  async lag(): Promise<Array<{ topic: string; partition: number; lag: number }>> {
    const { state } = this.deps;
    const result: Array<{ topic: string; partition: number; lag: number }> = [];
    for (const topic of this.options.topics) {
      const partitions = state.partitionCount(topic) ?? 0;
      for (let partition = 0; partition < partitions; partition++) {
        const committed =
          state.committedOffset(this.options.groupId, topic, partition) ??
          this.startPositions.get(`${topic}\u0000${partition}`) ??
          0;
        result.push({ topic, partition, lag: Math.max(0, state.endOffset(topic, partition) - committed) });
      }
    }
    return result;
  }

  private async run(topic: string, partition: number, start: number): Promise<void> {
    const maxBatchSize = Math.max(1, this.options.maxBatchSize ?? DEFAULT_MAX_BATCH_SIZE);
    let position = start;
    while (this.running) {
      const read = this.deps.state.read(topic, partition, position, maxBatchSize);
      if (read.length === 0) {
        await this.waitForAppend(topic, partition, position);
        continue;
      }
      // Same byte bound as the Kafka adapter: the rest is read again from the next position.
      const records = chunkMessages(read, maxBatchSize, this.options.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES)[0];
      const messages: ConsumedMessage[] = records.map((r, i) => ({
        topic,
        partition,
        offset: String(position + i),
        key: r.key,
        value: r.value,
        headers: { ...r.headers },
        timestamp: r.timestamp,
      }));
      const next = await this.processBatch(topic, partition, messages);
      if (next === null) return;
      position = next;
    }
  }

  /** Returns the next position after a committed batch, or null when the consumer stopped first. */
  private async processBatch(topic: string, partition: number, messages: ConsumedMessage[]): Promise<number | null> {
    const batch: Batch = {
      topic,
      partition,
      messages,
      heartbeat: async () => undefined,
      isActive: () => this.running,
      assignment: this.instanceId,
    };
    for (let attempt = 1; ; attempt++) {
      let entries: LogEntry[];
      let next: number;
      try {
        const result = await this.options.eachBatch(batch);
        next = nextPosition(result, messages);
        entries = [
          ...this.deps.toMessageEntries(result.outputs),
          { kind: 'commit', groupId: this.options.groupId, topic, partition, offset: next },
        ];
      } catch (err) {
        // "Not processed": commit nothing, back off, redeliver the same messages. Never skip.
        this.deps.logger.warn(
          {
            groupId: this.options.groupId,
            topic,
            partition,
            firstOffset: messages[0].offset,
            attempt,
            error: errorMessage(err),
          },
          'batch handler failed; redelivering after backoff',
        );
        if (!this.running) return null;
        await sleep(backoffDelay(attempt, this.deps.backoff), this.abort.signal);
        if (!this.running) return null;
        continue;
      }
      // The handler's work is done: retry only the append, with the same outputs, rather than redo the work.
      return (await this.commit(topic, partition, entries)) ? next : null;
    }
  }

  private async commit(topic: string, partition: number, entries: LogEntry[]): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.deps.append(entries);
        return true;
      } catch (err) {
        this.deps.logger.warn(
          { groupId: this.options.groupId, topic, partition, attempt, error: errorMessage(err) },
          'batch commit failed; retrying',
        );
        if (!this.running && attempt >= COMMIT_ATTEMPTS_WHEN_STOPPING) return false;
        await sleep(backoffDelay(attempt, this.deps.backoff), this.running ? this.abort.signal : undefined);
      }
    }
  }

  private waitForAppend(topic: string, partition: number, position: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        unsubscribe();
        this.abort.signal.removeEventListener('abort', done);
        resolve();
      };
      const unsubscribe = this.deps.state.onAppend((t, p) => {
        if (t === topic && p === partition) done();
      });
      this.abort.signal.addEventListener('abort', done, { once: true });
      // Re-check after subscribing: an append between the read and the subscription must not be missed.
      if (!this.running || this.deps.state.endOffset(topic, partition) > position) done();
    });
  }
}

/**
 * Offset to commit (the next one to read). `commitThrough` must name a message of the batch, or the offset
 * just before it ("processed nothing"); anything else is a handler bug and is treated like a throw.
 */
export function nextPosition(result: BatchResult, messages: ConsumedMessage[]): number {
  const first = Number(messages[0].offset);
  const last = Number(messages[messages.length - 1].offset);
  if (result.commitThrough === undefined) return last + 1;
  const through = Number(result.commitThrough);
  if (!Number.isInteger(through) || through < first - 1 || through > last) {
    throw new Error(`commitThrough ${result.commitThrough} is outside the batch [${first}, ${last}]`);
  }
  return through + 1;
}
