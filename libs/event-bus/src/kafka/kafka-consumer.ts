/**
 * One consumer-group member on kafkajs, with the port's batch semantics:
 *
 * - Offsets are committed only by us (`autoCommit: false`, `eachBatchAutoResolve: false`), only after the
 *   handler returned, and only up to `commitThrough`. We read committed data only (`readUncommitted: false`),
 *   so a handler never sees outputs of an aborted (or still open) transaction.
 * - Outputs and the source offset are committed ATOMICALLY in one Kafka transaction (send outputs,
 *   `sendOffsets`, commit) on a transactional producer owned by this member. A batch with no outputs uses a
 *   plain offset commit (cheaper, and fenced by the group generation).
 * - A handler that throws is called again with the SAME messages after an exponential backoff, for as long as
 *   the consumer runs and the partition is ours; nothing is committed meanwhile, nothing is skipped. That is
 *   "stop, retry, resume" for a dependency outage (Redis, S3) without losing the partition.
 * - While the handler runs (uploads take minutes) a timer heartbeats so the session does not expire. A
 *   rebalance turns `isActive()` false so the handler can wrap up; a finished batch is still committed (Kafka
 *   accepts commits from the current generation while the group prepares a rebalance, like the Java client's
 *   commit-on-revoke). Once the member was fenced (unknown member / illegal generation), nothing is committed:
 *   another member may own the partition, and the batch will be redelivered there.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import {
  type Consumer,
  type EachBatchPayload,
  type Kafka,
  type KafkaMessage,
  type Producer,
  Partitioners,
} from 'kafkajs';
import {
  DEFAULT_MAX_BATCH_SIZE,
  type Batch,
  type BatchResult,
  type ConsumedMessage,
  type ConsumeOptions,
  type ConsumerHandle,
  DEFAULT_MAX_BATCH_BYTES,
  type OutgoingMessage,
  chunkMessages,
} from '../event-bus.port';
import { type EventBusLogger, errorMessage } from '../event-bus.logger';
import { type KafkaAdmin } from './kafka-admin';
import { backoffDelay, type RetryBackoff, sleep } from '../retry-backoff';
import { toTopicMessages } from './kafka-messages';

export interface KafkaConsumerSettings {
  /** The broker evicts a member that sent no heartbeat for this long. */
  sessionTimeoutMs: number;
  /** How long the group waits for members to rejoin during a rebalance. */
  rebalanceTimeoutMs: number;
  /** Heartbeat period, also used by the timer that heartbeats while a handler runs. */
  heartbeatIntervalMs: number;
  /** Long-poll wait of an idle fetch; bounds how long stop() waits for an idle fetch. */
  maxWaitTimeMs: number;
  /** Batches (of different partitions) handled at once by one member. */
  partitionsConsumedConcurrently: number;
  transactionTimeoutMs: number;
  /**
   * isHealthy() turns false when the loop made no progress for this long (a handler proves progress by calling
   * heartbeat()).
   */
  stallTimeoutMs: number;
}

export interface KafkaConsumerDeps {
  kafka: Kafka;
  admin(): Promise<KafkaAdmin>;
  /** Throws UnknownTopicError for output topics that do not exist. */
  assertTopicsExist(topics: string[]): Promise<void>;
  logger: EventBusLogger;
  backoff: RetryBackoff;
  settings: KafkaConsumerSettings;
  onStopped(): void;
}

/** How often a stopping member retries the commit of a finished batch before leaving it for redelivery. */
export const COMMIT_ATTEMPTS_WHEN_STOPPING = 3;
export const FENCED = new Set(['ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID', 'FENCED_INSTANCE_ID']);

interface PendingCommit {
  topic: string;
  partition: number;
  outputs: OutgoingMessage[];
  offset: bigint;
  resolve(): void;
  reject(err: unknown): void;
}

/** Upper bound on the outputs of the batches merged into one transaction (bytes of values). */
export const MAX_TRANSACTION_BYTES = 8 * 1024 * 1024;

interface BatchFlags {
  rebalancing: boolean;
  fenced: boolean;
}

export class KafkaBusConsumer implements ConsumerHandle {
  /** Batch.assignment: this instance and how many group joins it has seen. */
  private readonly instanceId = randomUUID();
  private joins = 0;
  private readonly consumer: Consumer;
  private readonly transactionalId: string;
  private txProducer: { producer: Producer; ready: Promise<void> } | null = null;
  /**
   * Commits waiting for the member's transactional producer. One transaction runs at a time (kafkajs refuses
   * concurrent ones); the commits that arrive meanwhile (other partitions' batches, processed concurrently) go
   * together into the next one. See `drainTransactions`.
   */
  private pendingTransactions: PendingCommit[] = [];
  private transactionRunning = false;
  /** Per partition: commits run in order and never move an offset backwards. */
  private readonly partitionCommits = new Map<string, { chain: Promise<unknown>; committed: bigint }>();
  private readonly abort = new AbortController();
  private stopping: Promise<void> | null = null;
  private fatal = false;
  private lastProgress = Date.now();

  constructor(
    private readonly deps: KafkaConsumerDeps,
    private readonly options: ConsumeOptions,
  ) {
    const { settings } = deps;
    // Unique per member: transactional ids must not be shared by two live producers (the broker fences the
    // older one). Zombie fencing across members is therefore by group generation (plain commits) and the
    // fenced check below, not by transactional id; downstream dedup covers the remaining window.
    this.transactionalId = `${options.groupId}-${randomBytes(6).toString('hex')}`;
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
        await this.discardTransactionalProducer();
        this.deps.onStopped();
      })();
    }
    return this.stopping;
  }

  private async alreadyCommitted(topic: string, partition: number, offset: bigint): Promise<boolean> {
    return groupCommittedPast(this.deps.admin, this.options.groupId, topic, partition, offset);
  }

  isHealthy(): boolean {
    return !this.stopping && !this.fatal && Date.now() - this.lastProgress < this.deps.settings.stallTimeoutMs;
  }

  lag(): Promise<Array<{ topic: string; partition: number; lag: number }>> {
    return groupLag(this.deps.admin, this.options);
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
      const chunks = chunkMessages(
        all,
        Math.max(1, this.options.maxBatchSize ?? DEFAULT_MAX_BATCH_SIZE),
        this.options.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES,
      );
      for (let i = 0; i < chunks.length; i++) {
        const chunk = chunks[i];
        const handled = await this.handleWithRetry(payload, flags, chunk, heartbeat);
        if (!handled) return;
        const lastInChunk = BigInt(chunk[chunk.length - 1].offset);
        const partial = handled.through < lastInChunk;
        // Whole fetched batch done: commit past its end, which may include transaction markers and aborted
        // records after the last message. Otherwise commit right after the last processed message.
        const commitOffset =
          !partial && i === chunks.length - 1 ? BigInt(batch.lastOffset()) + 1n : handled.through + 1n;
        const committed = await this.commitWithRetry(
          payload,
          flags,
          batch.topic,
          batch.partition,
          handled.result.outputs,
          commitOffset,
        );
        if (!committed) return;
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

  private async handleWithRetry(
    payload: EachBatchPayload,
    flags: BatchFlags,
    messages: ConsumedMessage[],
    heartbeat: () => Promise<void>,
  ): Promise<{ result: BatchResult; through: bigint } | null> {
    const { topic, partition } = payload.batch;
    const view: Batch = {
      topic,
      partition,
      messages,
      heartbeat: async () => {
        this.lastProgress = Date.now();
        await heartbeat();
      },
      isActive: () => this.isActive(payload, flags),
      assignment: `${this.instanceId}:${this.joins}`,
    };
    for (let attempt = 1; ; attempt++) {
      // Do not start (or restart) work on a partition we are giving up; it is redelivered to its next owner.
      if (!this.isActive(payload, flags)) return null;
      this.lastProgress = Date.now();
      try {
        const result = await this.options.eachBatch(view);
        const through = commitThroughOf(result, messages);
        const outputTopics = [...new Set(result.outputs.map((o) => o.topic))];
        if (outputTopics.length > 0) await this.deps.assertTopicsExist(outputTopics);
        return { result, through };
      } catch (err) {
        // "Not processed": nothing is committed and the same messages come again. Never skip.
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
        if (!this.isActive(payload, flags)) return null;
        await sleep(backoffDelay(attempt, this.deps.backoff), this.abort.signal);
      }
    }
  }

  private async commitWithRetry(
    payload: EachBatchPayload,
    flags: BatchFlags,
    topic: string,
    partition: number,
    outputs: OutgoingMessage[],
    offset: bigint,
  ): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      // Fenced or partition reassigned: committing now could duplicate the new owner's work.
      if (flags.fenced || payload.isStale()) return false;
      // An ambiguous failure (the broker committed, the answer was lost, e.g. a broker restart) must not
      // publish the outputs a second time: if the group's offset already moved past the batch, it is done.
      if (attempt > 1 && (await this.alreadyCommitted(topic, partition, offset))) return true;
      try {
        await this.commit(topic, partition, outputs, offset, () => payload.isRunning());
        return true;
      } catch (err) {
        const type = kafkaErrorType(err);
        if (type && FENCED.has(type)) {
          flags.fenced = true;
          return false;
        }
        this.deps.logger.warn(
          {
            groupId: this.options.groupId,
            topic,
            partition,
            offset: offset.toString(),
            attempt,
            error: errorMessage(err),
          },
          'batch commit failed; retrying',
        );
        if (!payload.isRunning() && attempt >= COMMIT_ATTEMPTS_WHEN_STOPPING) return false;
        // The handler's work is done: retry the commit with the same outputs instead of redoing the work.
        await sleep(backoffDelay(attempt, this.deps.backoff), payload.isRunning() ? this.abort.signal : undefined);
      }
    }
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
      return new Promise<void>((resolve, reject) => {
        this.pendingTransactions.push({ topic, partition, outputs, offset, resolve, reject });
        if (!this.transactionRunning) void this.drainTransactions();
      });
    });
  }

  /**
   * Group commit: every commit waiting when the producer becomes free goes into ONE transaction (all their
   * outputs, all their offsets). A transaction costs the same five broker round trips whatever it carries
   * (AddPartitionsToTxn, Produce, AddOffsetsToTxn, TxnOffsetCommit, EndTxn), so with several partitions in
   * flight this divides the per-batch cost. Each batch is still all-or-nothing: its outputs and its offset are
   * in the same transaction. A partition has at most one commit waiting (`inPartitionOrder`), so a
   * transaction holds one batch per partition. When a merged transaction fails, its batches are tried one by
   * one, so one batch that can never commit (an oversized output, say) does not hold the others back.
   */
  private async drainTransactions(): Promise<void> {
    this.transactionRunning = true;
    try {
      while (this.pendingTransactions.length > 0) {
        const group = takeWithinBytes(this.pendingTransactions, MAX_TRANSACTION_BYTES);
        try {
          await this.runTransaction(group);
          for (const c of group) c.resolve();
        } catch (err) {
          if (group.length === 1) {
            group[0].reject(err);
            continue;
          }
          for (const c of group) {
            try {
              // An ambiguous failure (the broker committed, the answer was lost) must not publish twice.
              if (!(await this.alreadyCommitted(c.topic, c.partition, c.offset))) await this.runTransaction([c]);
              c.resolve();
            } catch (single) {
              c.reject(single);
            }
          }
        }
      }
    } finally {
      this.transactionRunning = false;
    }
  }

  private async runTransaction(group: PendingCommit[]): Promise<void> {
    const producer = await this.transactionalProducer();
    let transaction;
    try {
      transaction = await producer.transaction();
    } catch (err) {
      await this.discardTransactionalProducer();
      throw err;
    }
    try {
      const outputs = group.flatMap((c) => c.outputs);
      // acks=-1 is mandatory inside a transaction (and what we want anyway: all in-sync replicas).
      if (outputs.length > 0) await transaction.sendBatch({ topicMessages: toTopicMessages(outputs), acks: -1 });
      const byTopic = new Map<string, Array<{ partition: number; offset: string }>>();
      for (const c of group) {
        const list = byTopic.get(c.topic) ?? [];
        list.push({ partition: c.partition, offset: c.offset.toString() });
        byTopic.set(c.topic, list);
      }
      await transaction.sendOffsets({
        consumerGroupId: this.options.groupId,
        topics: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })),
      });
      await transaction.commit();
    } catch (err) {
      // Abort, then ALWAYS start over with a new producer (a new epoch). A produce that failed for one
      // partition may still have appended to the others, and kafkajs does not advance its sequence numbers
      // after a failed request: reusing the producer, the next transaction's records for those partitions
      // carry the same sequence numbers and the broker drops them as duplicates of the aborted ones, while
      // the offsets commit. (Found by the merged-transaction test in kafka-event-bus.int-spec.ts.) If the
      // abort itself fails, initialising the same transactional id aborts whatever is left open.
      await transaction.abort().catch(() => undefined);
      await this.discardTransactionalProducer();
      throw err;
    }
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

  private async transactionalProducer(): Promise<Producer> {
    if (!this.txProducer) {
      const producer = this.deps.kafka.producer({
        transactionalId: this.transactionalId,
        idempotent: true,
        maxInFlightRequests: 1,
        transactionTimeout: this.deps.settings.transactionTimeoutMs,
        createPartitioner: Partitioners.DefaultPartitioner,
        allowAutoTopicCreation: false,
      });
      this.txProducer = { producer, ready: producer.connect() };
    }
    const slot = this.txProducer;
    try {
      await slot.ready;
      return slot.producer;
    } catch (err) {
      if (this.txProducer === slot) this.txProducer = null;
      void slot.producer.disconnect().catch(() => undefined);
      throw err;
    }
  }

  private async discardTransactionalProducer(): Promise<void> {
    const slot = this.txProducer;
    this.txProducer = null;
    if (slot) await slot.producer.disconnect().catch(() => undefined);
  }
}

/** Whether the group's committed offset of a partition is at or past `offset` (false when it cannot tell). */
export async function groupCommittedPast(
  admin: () => Promise<KafkaAdmin>,
  groupId: string,
  topic: string,
  partition: number,
  offset: bigint,
): Promise<boolean> {
  try {
    const committed = (await (await admin()).committedOffsets(groupId, topic)).get(partition);
    return committed !== undefined && committed >= offset;
  } catch {
    return false; // cannot tell: retry the commit (the claim check in dedup still holds)
  }
}

/** Lag per partition of a group (end offset - committed), through the admin client; shared by both consumers. */
export async function groupLag(
  getAdmin: () => Promise<KafkaAdmin>,
  options: Pick<ConsumeOptions, 'groupId' | 'topics' | 'fromBeginning'>,
): Promise<Array<{ topic: string; partition: number; lag: number }>> {
  const admin = await getAdmin();
  const result: Array<{ topic: string; partition: number; lag: number }> = [];
  for (const topic of options.topics) {
    const [committed, ranges] = await Promise.all([
      admin.committedOffsets(options.groupId, topic),
      admin.offsetRange(topic),
    ]);
    for (const [partition, range] of [...ranges].sort((a, b) => a[0] - b[0])) {
      const c = committed.get(partition) ?? -1n;
      // No commit yet: the group starts at the beginning (port default) or at the end.
      const from = c >= 0n ? c : options.fromBeginning === false ? range.high : range.low;
      result.push({ topic, partition, lag: Math.max(0, Number(range.high - from)) });
    }
  }
  return result;
}

/** Takes commits from the front of `queue` while their outputs stay within `maxBytes` (always at least one). */
export function takeWithinBytes<T extends { outputs: OutgoingMessage[] }>(queue: T[], maxBytes: number): T[] {
  let bytes = 0;
  let n = 0;
  while (n < queue.length) {
    const size = queue[n].outputs.reduce((sum, o) => sum + o.value.length + (o.key?.length ?? 0), 0);
    if (n > 0 && bytes + size > maxBytes) break;
    bytes += size;
    n += 1;
  }
  return queue.splice(0, n);
}

/** The offset through which to commit; validates `commitThrough` (a handler bug is treated like a throw). */
export function commitThroughOf(result: BatchResult, messages: ConsumedMessage[]): bigint {
  const first = BigInt(messages[0].offset);
  const last = BigInt(messages[messages.length - 1].offset);
  if (result.commitThrough === undefined) return last;
  let through: bigint;
  try {
    through = BigInt(result.commitThrough);
  } catch {
    throw new Error(`commitThrough ${result.commitThrough} is not an offset`);
  }
  if (through < first - 1n || through > last) {
    throw new Error(`commitThrough ${result.commitThrough} is outside the batch [${first}, ${last}]`);
  }
  return through;
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
