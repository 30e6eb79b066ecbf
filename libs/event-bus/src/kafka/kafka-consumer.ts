/**
 * One consumer-group member on kafkajs, with the port's batch semantics. The batch loop (handler retries,
 * commitThrough, commit retries) is batch-loop.ts; the transactions are kafkajs-transactions.ts. Here:
 *
 * - Offsets are committed only by us (`autoCommit: false`, `eachBatchAutoResolve: false`), only after the
 *   handler returned, and only up to `commitThrough`. We read committed data only (`readUncommitted: false`),
 *   so a handler never sees outputs of an aborted (or still open) transaction.
 * - Outputs and the source offset are committed ATOMICALLY in one Kafka transaction (kafkajs-transactions.ts)
 *   on a transactional producer owned by this member. A batch with no outputs uses a plain offset commit
 *   (cheaper, and fenced by the group generation).
 * - A handler that throws is called again with the SAME messages after an exponential backoff, for as long as
 *   the consumer runs and the partition is ours; nothing is committed meanwhile, nothing is skipped. That is
 *   "stop, retry, resume" for a dependency outage (Redis, S3) without losing the partition.
 * - While the handler runs (uploads take minutes) a timer heartbeats so the session does not expire. A
 *   rebalance turns `isActive()` false so the handler can wrap up; a finished batch is still committed (Kafka
 *   accepts commits from the current generation while the group prepares a rebalance, like the Java client's
 *   commit-on-revoke). Once the member was fenced (unknown member / illegal generation), nothing is committed:
 *   another member may own the partition, and the batch will be redelivered there.
 */
import { randomUUID } from 'node:crypto';
import { type Consumer, type EachBatchPayload, type Kafka, type KafkaMessage } from 'kafkajs';
import { type ConsumedMessage, type ConsumeOptions, type OutgoingMessage, chunkMessages } from '../event-bus.port';
import { errorMessage } from '../event-bus.logger';
import { batchLimits, runBatch } from '../batch-loop';
import { FENCED, type KafkaMemberDeps, assertOutputTopics, KafkaGroupMember, groupCommittedPast } from './kafka-group';
import { KafkajsTransactions } from './kafkajs-transactions';

export interface KafkaConsumerDeps extends KafkaMemberDeps {
  kafka: Kafka;
}

interface BatchFlags {
  rebalancing: boolean;
  fenced: boolean;
}

export class KafkaBusConsumer extends KafkaGroupMember {
  declare protected readonly deps: KafkaConsumerDeps;
  /** Batch.assignment: this instance and how many group joins it has seen. */
  private readonly instanceId = randomUUID();
  private joins = 0;
  private readonly consumer: Consumer;
  /** Outputs + offsets in one transaction, merged across the partitions in flight (kafkajs-transactions.ts). */
  private readonly transactions: KafkajsTransactions;
  /** Per partition: commits run in order and never move an offset backwards. */
  private readonly partitionCommits = new Map<string, { chain: Promise<unknown>; committed: bigint }>();

  constructor(deps: KafkaConsumerDeps, options: ConsumeOptions) {
    super(deps, options);
    const { settings } = deps;
    this.transactions = new KafkajsTransactions({
      kafka: deps.kafka,
      groupId: options.groupId,
      transactionalId: this.transactionalId,
      transactionTimeoutMs: settings.transactionTimeoutMs,
      committedPast: (topic, partition, offset) => this.alreadyCommitted(topic, partition, offset),
    });
    this.consumer = deps.kafka.consumer({
      groupId: options.groupId,
      sessionTimeout: settings.sessionTimeoutMs,
      rebalanceTimeout: settings.rebalanceTimeoutMs,
      heartbeatInterval: settings.heartbeatIntervalMs,
      maxWaitTimeInMs: settings.maxWaitTimeMs,
      // Only committed transactional data: outputs of an aborted or open transaction are never seen.
      readUncommitted: false,
      allowAutoTopicCreation: false,
    });
    const progress = (): void => {
      this.lastProgress = Date.now();
    };
    const { events } = this.consumer;
    this.consumer.on(events.FETCH_START, progress);
    this.consumer.on(events.FETCH, progress);
    this.consumer.on(events.START_BATCH_PROCESS, progress);
    this.consumer.on(events.GROUP_JOIN, () => {
      progress();
      this.joins++;
      // New generation: another member may have committed further meanwhile; start the monotonic guard afresh.
      this.partitionCommits.clear();
    });
    this.consumer.on(events.END_BATCH_PROCESS, ({ payload }) => {
      // A fetch that held only transaction markers (or aborted records) never reaches eachBatch and, with
      // autoCommit off, kafkajs would not commit past it: lag() would report 1 forever after every transaction
      // on an output topic. Commit past it here, through the same ordered, monotonic per-partition path.
      if (payload.batchSize === 0 && !this.stopping) {
        void this.commit(
          payload.topic,
          payload.partition,
          [],
          BigInt(payload.lastOffset) + 1n,
          () => !this.stopping,
        ).catch(() => undefined);
      }
    });
    this.consumer.on(events.CRASH, ({ payload }) => {
      if (!payload.restart) this.fatal = true;
      deps.logger.error(
        { groupId: options.groupId, restart: payload.restart, error: errorMessage(payload.error) },
        payload.restart ? 'kafka consumer crashed; kafkajs restarts it' : 'kafka consumer crashed for good',
      );
    });
  }

  async start(): Promise<void> {
    await this.consumer.connect();
    // Port default: earliest, so a new group misses nothing.
    await this.consumer.subscribe({ topics: this.options.topics, fromBeginning: this.options.fromBeginning ?? true });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently:
        this.options.concurrentPartitions ?? this.deps.settings.partitionsConsumedConcurrently,
      eachBatch: (payload) => this.onBatch(payload),
    });
  }

  stop(): Promise<void> {
    if (!this.stopping) {
      // isActive() turns false and backoff sleeps end at once; kafkajs waits for the batch in progress (which we
      // commit), then leaves the group so the partitions move without waiting for the session timeout.
      this.abort.abort();
      this.stopping = (async () => {
        try {
          await this.consumer.disconnect();
        } catch (err) {
          this.deps.logger.warn(
            { groupId: this.options.groupId, error: errorMessage(err) },
            'kafka consumer did not stop cleanly',
          );
        }
        await this.transactions.close();
        this.deps.onStopped();
      })();
    }
    return this.stopping;
  }

  private async alreadyCommitted(topic: string, partition: number, offset: bigint): Promise<boolean> {
    return groupCommittedPast(this.deps.admin, this.options.groupId, topic, partition, offset);
  }

  private async onBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    const all = batch.messages.map((m) => toConsumed(batch.topic, batch.partition, m));
    if (all.length === 0) return;
    const flags: BatchFlags = { rebalancing: false, fenced: false };
    const heartbeat = async (): Promise<void> => {
      try {
        await payload.heartbeat();
      } catch (err) {
        const type = kafkaErrorType(err);
        if (type === 'REBALANCE_IN_PROGRESS') flags.rebalancing = true;
        else if (type && FENCED.has(type)) flags.fenced = true;
      }
    };
    // Keep the session alive during long handlers; kafkajs only heartbeats between batches.
    const timer = setInterval(() => void heartbeat(), this.deps.settings.heartbeatIntervalMs);
    try {
      const { maxCount, maxBytes } = batchLimits(this.options);
      const chunks = chunkMessages(all, maxCount, maxBytes);
      for (let i = 0; i < chunks.length; i++) {
        const chunk = chunks[i];
        const isActive = (): boolean => this.isActive(payload, flags);
        const handled = await runBatch(this.loop, {
          batch: {
            topic: batch.topic,
            partition: batch.partition,
            messages: chunk,
            heartbeat: async () => {
              this.lastProgress = Date.now();
              await heartbeat();
            },
            isActive,
            assignment: `${this.instanceId}:${this.joins}`,
          },
          isActive,
          onAttempt: () => {
            this.lastProgress = Date.now();
          },
          prepare: async (result, through) => {
            await assertOutputTopics(result.outputs, this.deps.assertTopicsExist);
            // Whole fetched batch done: commit past its end, which may include transaction markers and aborted
            // records after the last message. Otherwise commit right after the last processed message.
            const whole = through >= BigInt(chunk[chunk.length - 1].offset) && i === chunks.length - 1;
            return { outputs: result.outputs, offset: whole ? BigInt(batch.lastOffset()) + 1n : through + 1n };
          },
          commit: ({ outputs, offset }) => ({
            run: () => this.commit(batch.topic, batch.partition, outputs, offset, () => payload.isRunning()),
            // Fenced or partition reassigned: committing now could duplicate the new owner's work.
            mayAttempt: () => !flags.fenced && !payload.isStale(),
            committedAfterAll: () => this.alreadyCommitted(batch.topic, batch.partition, offset),
            isFenced: (err) => {
              const type = kafkaErrorType(err);
              if (!type || !FENCED.has(type)) return false;
              flags.fenced = true;
              return true;
            },
            stopping: () => !payload.isRunning(),
            logFields: () => ({ offset: offset.toString() }),
          }),
        });
        if (!handled) return;
        const partial = handled.through < BigInt(chunk[chunk.length - 1].offset);
        this.lastProgress = Date.now();
        if (handled.through >= BigInt(chunk[0].offset)) payload.resolveOffset(handled.through.toString());
        if (partial) {
          // Messages after commitThrough come again: fetch this partition from right after it.
          try {
            this.consumer.seek({
              topic: batch.topic,
              partition: batch.partition,
              offset: (handled.through + 1n).toString(),
            });
          } catch (err) {
            // Only when the member is shutting down: the next owner starts from the committed offset anyway.
            this.deps.logger.debug(
              { topic: batch.topic, partition: batch.partition, error: errorMessage(err) },
              'seek after a partial commit skipped',
            );
          }
          return;
        }
      }
    } finally {
      clearInterval(timer);
    }
  }

  private isActive(payload: EachBatchPayload, flags: BatchFlags): boolean {
    return !this.stopping && payload.isRunning() && !payload.isStale() && !flags.rebalancing && !flags.fenced;
  }

  /**
   * Commits `offset` (with `outputs`, atomically). No outputs: a plain offset commit, fenced by the group
   * generation. Outputs, or a member that is stopping: a transaction. (kafkajs turns plain commits into silent
   * no-ops once its runner stops, while a transactional offset commit goes through the transaction
   * coordinator regardless, so a stopping member still commits its last batch.)
   */
  private commit(
    topic: string,
    partition: number,
    outputs: OutgoingMessage[],
    offset: bigint,
    runnerRunning: () => boolean,
  ): Promise<void> {
    return this.inPartitionOrder(topic, partition, offset, () => {
      if (outputs.length === 0 && !this.stopping && runnerRunning()) {
        return this.consumer.commitOffsets([{ topic, partition, offset: offset.toString() }]);
      }
      return this.transactions.commit({ topic, partition, outputs, offset });
    });
  }

  /** Runs commits of one partition in call order and skips any that would move the offset backwards. */
  private inPartitionOrder(
    topic: string,
    partition: number,
    offset: bigint,
    commit: () => Promise<void>,
  ): Promise<void> {
    const key = `${topic}\u0000${partition}`;
    let state = this.partitionCommits.get(key);
    if (!state) this.partitionCommits.set(key, (state = { chain: Promise.resolve(), committed: -1n }));
    const s = state;
    const run = s.chain.then(async () => {
      if (offset <= s.committed) return;
      await commit();
      s.committed = offset;
    });
    s.chain = run.catch(() => undefined);
    return run;
  }
}

function toConsumed(topic: string, partition: number, m: KafkaMessage): ConsumedMessage {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(m.headers ?? {})) {
    if (value === undefined) continue;
    // The port has one value per header; Kafka allows repeats, the last one wins.
    const last = Array.isArray(value) ? value[value.length - 1] : value;
    if (last !== undefined) headers[name] = last.toString();
  }
  return {
    topic,
    partition,
    offset: m.offset,
    key: m.key ? m.key.toString('utf8') : null,
    value: m.value ?? Buffer.alloc(0),
    headers,
    timestamp: Number(m.timestamp),
  };
}

export function kafkaErrorType(err: unknown): string | undefined {
  let current: unknown = err;
  for (let depth = 0; current && depth < 5; depth++) {
    const type = (current as { type?: unknown }).type;
    if (typeof type === 'string') return type;
    current = (current as { cause?: unknown }).cause ?? (current as { originalError?: unknown }).originalError;
  }
  return undefined;
}
