/**
 * Consumer of the embedded log (memory and file adapters). One loop per topic-partition, so a slow partition
 * (a long upload) never holds up the others, and at most one batch per partition in flight, so per-key order
 * holds. The batch loop (handler retries, commitThrough, commit retries) is the Kafka adapters' one
 * (batch-loop.ts); here a returned result is committed together with its outputs as ONE atomic append (one
 * journal frame), and messages after `commitThrough` are read again from the next position.
 */
import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import {
  type BatchResult,
  type ConsumedMessage,
  type ConsumeOptions,
  type ConsumerHandle,
  chunkMessages,
} from '../event-bus.port';
import { type EventBusLogger, errorMessage } from '../event-bus.logger';
import { type RetryBackoff } from '../retry-backoff';
import { type BatchLoopDeps, batchLimits, batchLoopDeps, runBatch } from '../batch-loop';
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
  private readonly loop: BatchLoopDeps;

  constructor(
    private readonly deps: LogConsumerDeps,
    private readonly options: ConsumeOptions,
  ) {
    this.loop = batchLoopDeps(options, deps, this.abort.signal);
  }

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
    const { maxCount, maxBytes } = batchLimits(this.options);
    let position = start;
    while (this.running) {
      const read = this.deps.state.read(topic, partition, position, maxCount);
      if (read.length === 0) {
        await this.waitForAppend(topic, partition, position);
        continue;
      }
      // Same byte bound as the Kafka adapter: the rest is read again from the next position.
      const records = chunkMessages(read, maxCount, maxBytes)[0];
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
    const isActive = (): boolean => this.running;
    const handled = await runBatch(this.loop, {
      batch: { topic, partition, messages, heartbeat: async () => undefined, isActive, assignment: this.instanceId },
      isActive,
      // Outputs and the group's offset go into ONE atomic append.
      prepare: (result, through) => {
        const next = Number(through) + 1;
        const commit: LogEntry = { kind: 'commit', groupId: this.options.groupId, topic, partition, offset: next };
        return { next, entries: [...this.deps.toMessageEntries(result.outputs), commit] };
      },
      commit: ({ entries }) => ({ run: () => this.deps.append(entries), stopping: () => !this.running }),
    });
    return handled?.plan ? handled.plan.next : null;
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
