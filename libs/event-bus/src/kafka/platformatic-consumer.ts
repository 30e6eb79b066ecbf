/**
 * One consumer-group member on @platformatic/kafka, with the same port semantics as kafka-consumer.ts (kafkajs):
 *
 * - The client's message stream (`autocommit: false`, read_committed) feeds a queue per partition; a loop per
 *   partition hands consecutive chunks of it (`maxBatchSize` / `maxBatchBytes`) to the handler, at most
 *   `concurrentPartitions` partitions at once. The stream is paused while the queues hold too much.
 * - A handler that throws gets the SAME messages again after a backoff (they stay at the head of the queue);
 *   `commitThrough` leaves the rest at the head for the next call. Nothing is committed meanwhile.
 * - EVERY commit, with or without outputs, is a Kafka transaction: outputs + TxnOffsetCommit + EndTxn. The
 *   TxnOffsetCommit carries the group generation and member id the messages were FETCHED under (KIP-447), so
 *   the group coordinator refuses the commit of a member that was fenced or rebalanced since (a zombie's
 *   commit fails instead of doubling the outputs), and the batch is redelivered to the partition's owner.
 *   (Plain OffsetCommit is not used: this client's `commit()` rejoins the group and retries under the NEW
 *   generation after ILLEGAL_GENERATION, which would commit work done under the old one.)
 * - Concurrent partitions' commits are merged into one transaction (group commit, as on kafkajs); a
 *   transactional producer is replaced after any failed transaction (a new epoch, fresh sequence numbers).
 * - A rebalance (new generation) drops every queue: the stream re-reads from the committed offsets, and a
 *   batch in progress sees isActive() false; its commit is refused if the generation moved on.
 * - The group heartbeat runs on the client's own timer, so long handlers keep the partition.
 * - Admin work (lag, "was it committed after all?") goes through the bus's admin client (kafka-admin.ts).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { type ConnectionOptions } from 'node:tls';
import { type KafkaAdmin } from './kafka-admin';
import type { Consumer, Message, MessagesStream, Producer } from '@platformatic/kafka';
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
import { backoffDelay, type RetryBackoff, sleep } from '../retry-backoff';
import {
  COMMIT_ATTEMPTS_WHEN_STOPPING,
  FENCED,
  type KafkaConsumerSettings,
  MAX_TRANSACTION_BYTES,
  commitThroughOf,
  groupCommittedPast,
  groupLag,
  takeWithinBytes,
} from './kafka-consumer';
import { type KafkaSaslConfig, loadPlatformatic, platformaticConnectionOptions } from './publish-producer';

export interface PlatformaticConsumerDeps {
  brokers: string[];
  clientId: string;
  ssl?: boolean | ConnectionOptions;
  sasl?: KafkaSaslConfig;
  admin(): Promise<KafkaAdmin>;
  /** Throws UnknownTopicError for output topics that do not exist. */
  assertTopicsExist(topics: string[]): Promise<void>;
  logger: EventBusLogger;
  backoff: RetryBackoff;
  settings: KafkaConsumerSettings;
  onStopped(): void;
}

/** What the group coordinator checks on TxnOffsetCommit (KIP-447): the member and generation of the fetch. */
interface MemberStamp {
  coordinatorId: number;
  groupId: string;
  generationId: number;
  memberId: string;
}

interface Queued {
  value: Buffer;
  message: ConsumedMessage;
  member: MemberStamp;
}

interface PartitionState {
  topic: string;
  partition: number;
  queue: Queued[];
  running: boolean;
  /** Lowest offset dropped (fetched under another generation) since the last join: read again from there. */
  firstDropped?: bigint;
}

interface PendingCommit {
  topic: string;
  partition: number;
  outputs: OutgoingMessage[];
  /** Next offset to consume (what the group commits). */
  offset: bigint;
  member: MemberStamp;
  resolve(): void;
  reject(err: unknown): void;
}

/** TxnOffsetCommit answers that a retry of the same request may clear (the coordinator is busy or moving). */
const RETRIABLE_TXN_OFFSET_COMMIT = new Set([
  'COORDINATOR_LOAD_IN_PROGRESS',
  'CONCURRENT_TRANSACTIONS',
  'REQUEST_TIMED_OUT',
]);

/**
 * Retries of the transactional producer's requests. The broker answers CONCURRENT_TRANSACTIONS to the next
 * transaction's AddPartitionsToTxn / AddOffsetsToTxn while it still writes the previous one's commit markers
 * (usually a few ms): with the client's default (3 retries, 1 s apart) each such answer stalled the whole
 * dedup group for a second. The Java client retries it after 20 ms; here after 10, 20, 40, ... ms (6 retries,
 * 630 ms in all). Other retriable errors keep the client's 1 s delay.
 */
const TX_RETRIES = 6;
export function txRetryDelay(
  _client: unknown,
  _operation: string,
  attempt: number,
  _retries: number,
  error: unknown,
): number {
  return platformaticErrorType(error) === 'CONCURRENT_TRANSACTIONS' ? 10 * 2 ** (attempt - 1) : 1_000;
}

/** Pause the stream above this many queued messages (all partitions together); resume below half. */
const MAX_QUEUED_MESSAGES = 5_000;

export class PlatformaticBusConsumer implements ConsumerHandle {
  /** Batch.assignment: this instance and the generation its messages were fetched under. */
  private readonly instanceId = randomUUID();
  private consumer: Consumer | null = null;
  private stream: MessagesStream<Buffer, Buffer, Buffer, Buffer> | null = null;
  private readonly transactionalId: string;
  private txProducer: Promise<Producer<string, Buffer, string, string>> | null = null;
  private pendingTransactions: PendingCommit[] = [];
  private transactionRunning = false;
  private readonly partitions = new Map<string, PartitionState>();
  /** Per partition: the offset we last committed in this generation (never commit backwards). */
  private readonly committed = new Map<string, bigint>();
  private readonly running = new Set<Promise<void>>();
  private readonly abort = new AbortController();
  private generation = -1;
  private queued = 0;
  private paused = false;
  private scheduled = false;
  private stopping: Promise<void> | null = null;
  private fatal = false;
  private lastProgress = Date.now();
  /** The broker refused TxnOffsetCommit v4 once: use v3 from then on. */
  private txnOffsetCommitV3 = false;

  constructor(
    private readonly deps: PlatformaticConsumerDeps,
    private readonly options: ConsumeOptions,
  ) {
    // Unique per member, as on kafkajs: zombie fencing is by group generation (KIP-447), not by transactional id.
    this.transactionalId = `${options.groupId}-${randomBytes(6).toString('hex')}`;
  }

  async start(): Promise<void> {
    const pk = await loadPlatformatic();
    const { settings } = this.deps;
    const consumer = new pk.Consumer({
      clientId: this.deps.clientId,
      bootstrapBrokers: this.deps.brokers,
      groupId: this.options.groupId,
      sessionTimeout: settings.sessionTimeoutMs,
      rebalanceTimeout: settings.rebalanceTimeoutMs,
      heartbeatInterval: settings.heartbeatIntervalMs,
      maxWaitTime: settings.maxWaitTimeMs,
      // Only committed transactional data: outputs of an aborted or open transaction are never seen.
      isolationLevel: pk.FetchIsolationLevels.READ_COMMITTED,
      autocommit: false,
      autocreateTopics: false,
      // kafkajs's protocol name (same round-robin idea, standard subscription/assignment encoding): a group can
      // hold members of both clients, e.g. during a rolling change of KAFKA_CLIENT. With the client's own name
      // ('roundrobin') the broker refuses the join while a kafkajs member is in the group
      // (INCONSISTENT_GROUP_PROTOCOL), and the new pods never start consuming.
      protocols: [{ name: 'RoundRobinAssigner', version: 0 }],
      ...platformaticConnectionOptions(this.deps),
    });
    this.consumer = consumer;
    consumer.on('consumer:group:join', () => this.onJoin());
    consumer.on('consumer:group:rebalance', () => {
      // isActive() turns false for batches in progress: their partitions may be moving.
      this.generation = -1;
    });
    consumer.on('consumer:heartbeat:end', () => {
      // An idle member proves liveness by heartbeating; a busy one by its batches.
      if (this.runningCount() === 0) this.lastProgress = Date.now();
    });
    const stream = await consumer.consume({
      topics: this.options.topics,
      mode: pk.MessagesStreamModes.COMMITTED,
      // Port default: earliest, so a new group misses nothing.
      fallbackMode:
        this.options.fromBeginning === false
          ? pk.MessagesStreamFallbackModes.LATEST
          : pk.MessagesStreamFallbackModes.EARLIEST,
      autocommit: false,
    });
    this.stream = stream;
    this.generation = consumer.generationId;
    stream.on('data', (m: Message<Buffer, Buffer, Buffer, Buffer>) => this.onMessage(m));
    stream.on('fetch', () => {
      // Fetching proves liveness only while no batch runs: a hung handler must still turn isHealthy() false.
      if (this.runningCount() === 0) this.lastProgress = Date.now();
      // After the records of the fetch were pushed: commit past transaction markers on idle partitions.
      setImmediate(() => this.commitIdlePartitions());
    });
    stream.on('error', (err: Error) => {
      if (this.stopping) return;
      this.fatal = true;
      this.deps.logger.error(
        { groupId: this.options.groupId, error: errorMessage(err) },
        'kafka consumer stream failed',
      );
    });
  }

  stop(): Promise<void> {
    if (!this.stopping) {
      // isActive() turns false and backoff sleeps end at once; batches in progress finish and commit, then the
      // member leaves the group so its partitions move without waiting for the session timeout.
      this.abort.abort();
      this.stopping = (async () => {
        this.stream?.pause();
        await Promise.all([...this.running]);
        try {
          await this.stream?.close();
          await this.consumer?.close();
        } catch (err) {
          this.deps.logger.warn(
            { groupId: this.options.groupId, error: errorMessage(err) },
            'kafka consumer did not stop cleanly',
          );
          await this.consumer?.close(true).catch(() => undefined);
        }
        await this.discardTransactionalProducer();
        this.deps.onStopped();
      })();
    }
    return this.stopping;
  }

  isHealthy(): boolean {
    return !this.stopping && !this.fatal && Date.now() - this.lastProgress < this.deps.settings.stallTimeoutMs;
  }

  lag(): Promise<Array<{ topic: string; partition: number; lag: number }>> {
    return groupLag(this.deps.admin, this.options);
  }

  private runningCount(): number {
    return this.running.size;
  }

  private onJoin(): void {
    // New generation: the stream re-reads every assigned partition from the committed offsets, so what we hold
    // (fetched under the old generation, whose commits the coordinator now refuses) is dropped, not handled.
    this.lastProgress = Date.now();
    this.generation = this.consumer?.generationId ?? -1;
    // Where the stream starts again. It re-reads from the committed offset, but for a partition WITHOUT one it
    // would go on from its in-memory position, after the messages we are dropping here (found by the fencing
    // test: they were never delivered again). So: the first message not committed by us when we hold some,
    // else forget the position (no commit → the fallback mode, earliest by default). This listener runs before
    // the stream's own, which then refreshes the offsets.
    const positions = this.stream?.offsetsToFetch;
    for (const [key, state] of this.partitions) {
      let rewind = state.firstDropped;
      if (state.queue.length > 0) {
        const head = BigInt(state.queue[0].message.offset);
        if (rewind === undefined || head < rewind) rewind = head;
      }
      if (positions) {
        if (rewind !== undefined) positions.set(key, rewind);
        else positions.delete(key);
      }
      this.queued -= state.queue.length;
      state.queue = [];
      state.firstDropped = undefined;
    }
    if (positions) {
      for (const key of [...positions.keys()]) if (!this.partitions.has(key)) positions.delete(key);
    }
    this.committed.clear();
    this.resumeIfBelow();
  }

  private onMessage(m: Message<Buffer, Buffer, Buffer, Buffer>): void {
    const member = (m.metadata as { consumer?: MemberStamp }).consumer;
    const state = this.partitionState(m.topic, m.partition);
    if (this.stopping || !member || member.generationId !== this.generation) {
      // Fetched under another generation (or while stopping): read again after the join, or by the next owner.
      const offset = BigInt(m.offset);
      if (state.firstDropped === undefined || offset < state.firstDropped) state.firstDropped = offset;
      return;
    }
    state.queue.push({ value: m.value ?? Buffer.alloc(0), message: toConsumed(m), member });
    this.queued += 1;
    if (this.queued >= MAX_QUEUED_MESSAGES && !this.paused) {
      this.paused = true;
      this.stream?.pause();
    }
    // The stream pushes a whole fetch response synchronously: start the partition loops once it is all queued,
    // so a batch holds what was fetched together (as kafkajs's eachBatch does), not one message.
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.schedule();
      });
    }
  }

  private partitionState(topic: string, partition: number): PartitionState {
    const key = `${topic}:${partition}`;
    let state = this.partitions.get(key);
    if (!state) this.partitions.set(key, (state = { topic, partition, queue: [], running: false }));
    return state;
  }

  private resumeIfBelow(): void {
    if (this.paused && this.queued < MAX_QUEUED_MESSAGES / 2 && !this.stopping) {
      this.paused = false;
      this.stream?.resume();
    }
  }

  /** Starts partition loops for partitions with queued messages, up to `concurrentPartitions` at once. */
  private schedule(): void {
    const limit = Math.max(1, this.options.concurrentPartitions ?? this.deps.settings.partitionsConsumedConcurrently);
    for (const state of this.partitions.values()) {
      if (this.running.size >= limit || this.stopping) return;
      if (state.running || state.queue.length === 0) continue;
      state.running = true;
      const loop = this.runPartition(state)
        .catch((err: unknown) => {
          this.deps.logger.error(
            { groupId: this.options.groupId, topic: state.topic, partition: state.partition, error: errorMessage(err) },
            'partition loop failed',
          );
        })
        .finally(() => {
          state.running = false;
          this.running.delete(loop);
          this.schedule();
        });
      this.running.add(loop);
    }
  }

  private async runPartition(state: PartitionState): Promise<void> {
    const maxCount = Math.max(1, this.options.maxBatchSize ?? DEFAULT_MAX_BATCH_SIZE);
    const maxBytes = this.options.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES;
    while (state.queue.length > 0 && this.stopping === null) {
      const generation = this.generation;
      const queue = state.queue;
      const chunk = chunkMessages(queue, maxCount, maxBytes)[0];
      const active = (): boolean => this.stopping === null && this.generation === generation && state.queue === queue;
      const handled = await this.handleWithRetry(state, chunk, active);
      if (!handled) return;
      const first = BigInt(chunk[0].message.offset);
      const done = handled.through >= first ? chunk.filter((q) => BigInt(q.message.offset) <= handled.through) : [];
      if (done.length > 0 || handled.result.outputs.length > 0) {
        let offset = handled.through + 1n;
        const whole = done.length === chunk.length && queue.length === chunk.length;
        // Whole queue done: commit past what the stream fetched (transaction markers, aborted records after the
        // last message), unless messages of this partition were dropped since the join.
        if (whole) offset = this.maxSafeOffset(state, offset, generation);
        const member = (done[done.length - 1] ?? chunk[0]).member;
        const ok = await this.commitWithRetry(state, handled.result.outputs, offset, member, generation);
        if (!ok) return;
      }
      this.lastProgress = Date.now();
      if (state.queue === queue) {
        queue.splice(0, done.length);
        this.queued -= done.length;
        this.resumeIfBelow();
      }
    }
  }

  /** `offset`, or the stream's next fetch position for the partition when every message below it was handled. */
  private maxSafeOffset(state: PartitionState, offset: bigint, generation: number): bigint {
    const stream = this.stream;
    if (!stream || state.firstDropped !== undefined || this.generation !== generation || stream.readableLength > 0)
      return offset;
    const next = stream.offsetsToFetch.get(`${state.topic}:${state.partition}`);
    return next !== undefined && next > offset ? next : offset;
  }

  /** Partitions with nothing queued whose fetch position moved past their commit (markers only): commit it. */
  private commitIdlePartitions(): void {
    const stream = this.stream;
    const consumer = this.consumer;
    if (!stream || !consumer || this.stopping || stream.readableLength > 0 || consumer.memberId === null) return;
    const generation = this.generation;
    if (generation !== consumer.generationId) return;
    for (const assignment of consumer.assignments ?? []) {
      for (const partition of assignment.partitions) {
        const state = this.partitionState(assignment.topic, partition);
        const key = `${assignment.topic}:${partition}`;
        const next = stream.offsetsToFetch.get(key);
        const known = this.committed.get(key) ?? stream.offsetsCommitted.get(key);
        if (
          state.running ||
          state.queue.length > 0 ||
          state.firstDropped !== undefined ||
          next === undefined ||
          known === undefined ||
          next <= known
        )
          continue;
        const member: MemberStamp = {
          coordinatorId: consumer.coordinatorId ?? -1,
          groupId: consumer.groupId,
          generationId: generation,
          memberId: consumer.memberId,
        };
        this.committed.set(key, next); // one attempt at a time; a failure is retried after the next fetch
        void this.commit(assignment.topic, partition, [], next, member).catch(() => {
          if (this.committed.get(key) === next) this.committed.delete(key);
        });
      }
    }
  }

  private async handleWithRetry(
    state: PartitionState,
    chunk: Queued[],
    active: () => boolean,
  ): Promise<{ result: BatchResult; through: bigint } | null> {
    const messages = chunk.map((q) => q.message);
    const view: Batch = {
      topic: state.topic,
      partition: state.partition,
      messages,
      // The client heartbeats on its own timer; a handler calling this only proves progress.
      heartbeat: async () => {
        this.lastProgress = Date.now();
      },
      isActive: active,
      assignment: `${this.instanceId}:${this.generation}`,
    };
    for (let attempt = 1; ; attempt++) {
      // Do not start (or restart) work on a partition we are giving up; it is redelivered to its next owner.
      if (!active()) return null;
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
            topic: state.topic,
            partition: state.partition,
            firstOffset: messages[0].offset,
            attempt,
            error: errorMessage(err),
          },
          'batch handler failed; redelivering after backoff',
        );
        if (!active()) return null;
        await sleep(backoffDelay(attempt, this.deps.backoff), this.abort.signal);
      }
    }
  }

  private async commitWithRetry(
    state: PartitionState,
    outputs: OutgoingMessage[],
    offset: bigint,
    member: MemberStamp,
    generation: number,
  ): Promise<boolean> {
    const { topic, partition } = state;
    for (let attempt = 1; ; attempt++) {
      // The first attempt always goes to the coordinator, which judges the member stamp (a batch finished while
      // a rebalance is pending still commits under its generation). Retrying after the generation moved on is
      // pointless: the coordinator refuses it, and the batch is redelivered to the partition's owner.
      if (attempt > 1 && this.generation !== generation && !this.stopping) return false;
      // An ambiguous failure (the broker committed, the answer was lost) must not publish the outputs twice.
      if (attempt > 1 && (await groupCommittedPast(this.deps.admin, this.options.groupId, topic, partition, offset)))
        return true;
      try {
        await this.commit(topic, partition, outputs, offset, member);
        return true;
      } catch (err) {
        const type = platformaticErrorType(err);
        if (type && FENCED.has(type)) {
          this.deps.logger.info(
            { groupId: this.options.groupId, topic, partition, offset: offset.toString(), reason: type },
            'batch commit fenced; the batch is redelivered to the partition owner',
          );
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
            kafkaError: type,
          },
          'batch commit failed; retrying',
        );
        if (this.stopping && attempt >= COMMIT_ATTEMPTS_WHEN_STOPPING) return false;
        // The handler's work is done: retry the commit with the same outputs instead of redoing the work.
        await sleep(backoffDelay(attempt, this.deps.backoff), this.stopping ? undefined : this.abort.signal);
      }
    }
  }

  /** Queues the commit for the next (merged) transaction; never moves a partition's offset backwards. */
  private commit(
    topic: string,
    partition: number,
    outputs: OutgoingMessage[],
    offset: bigint,
    member: MemberStamp,
  ): Promise<void> {
    const key = `${topic}:${partition}`;
    const known = this.committed.get(key);
    if (known !== undefined && offset < known) {
      if (outputs.length === 0) return Promise.resolve();
      offset = known; // outputs still go out; the offset never moves backwards
    }
    return new Promise<void>((resolve, reject) => {
      this.pendingTransactions.push({
        topic,
        partition,
        outputs,
        offset,
        member,
        resolve: () => {
          if ((this.committed.get(key) ?? -1n) < offset) this.committed.set(key, offset);
          resolve();
        },
        reject,
      });
      if (!this.transactionRunning) void this.drainTransactions();
    });
  }

  /**
   * Group commit, as on kafkajs: every commit waiting when the producer is free goes into ONE transaction.
   * A merged transaction that fails is retried batch by batch, so one batch that can never commit does not
   * hold back the others. Two commits of one partition never share a transaction (the later offset wins).
   */
  private async drainTransactions(): Promise<void> {
    this.transactionRunning = true;
    try {
      while (this.pendingTransactions.length > 0) {
        const group = takeDistinctPartitions(
          takeWithinBytes(this.pendingTransactions, MAX_TRANSACTION_BYTES),
          this.pendingTransactions,
        );
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
              if (!(await groupCommittedPast(this.deps.admin, this.options.groupId, c.topic, c.partition, c.offset)))
                await this.runTransaction([c]);
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
      transaction = await producer.beginTransaction();
    } catch (err) {
      await this.discardTransactionalProducer();
      throw err;
    }
    try {
      const outputs = group.flatMap((c) => c.outputs);
      if (outputs.length > 0) {
        await transaction.send({
          messages: outputs.map((m) => ({
            topic: m.topic,
            key: m.key ?? undefined,
            value: m.value,
            headers: m.headers ? new Map(Object.entries(m.headers)) : undefined,
          })),
        });
      }
      await transaction.addConsumer(this.consumer as never);
      await this.txnOffsetCommit(producer, group);
      await transaction.commit();
    } catch (err) {
      // Abort, then ALWAYS start over with a new producer (a new epoch): see runTransaction in kafka-consumer.ts.
      await transaction.abort().catch(() => undefined);
      await this.discardTransactionalProducer();
      throw err;
    }
  }

  /**
   * Every partition's offset in ONE TxnOffsetCommit request per member stamp (normally one), fenced by that stamp.
   * The client's `transaction.addOffset` sends one request per partition, and only one at a time (it merges
   * concurrent calls of one operation into the first call's request, dropping the other offsets): with 12
   * partitions that was 12 round trips per transaction, the dedup's bottleneck (BENCHMARKS.md). The request is
   * the one the client builds (same API version choice: the newest this client implements, v4 on Kafka ≥ 3.8,
   * else v3, the first with the KIP-447 member fields), sent on the producer's connection to the group coordinator.
   */
  private async txnOffsetCommit(
    producer: Producer<string, Buffer, string, string>,
    group: PendingCommit[],
  ): Promise<void> {
    const pk = await loadPlatformatic();
    const byStamp = new Map<string, PendingCommit[]>();
    for (const c of group) {
      const k = `${c.member.coordinatorId}\0${c.member.groupId}\0${c.member.generationId}\0${c.member.memberId}`;
      const list = byStamp.get(k);
      if (list) list.push(c);
      else byStamp.set(k, [c]);
    }
    for (const commits of byStamp.values()) {
      const member = commits[0].member;
      const metadata = await producer.metadata({ topics: [...new Set(commits.map((c) => c.topic))] });
      const broker = metadata.brokers.get(member.coordinatorId);
      if (!broker) throw new Error(`group coordinator ${member.coordinatorId} is not in the cluster metadata`);
      const topics = new Map<
        string,
        Array<{ partitionIndex: number; committedOffset: bigint; committedLeaderEpoch: number }>
      >();
      for (const c of commits) {
        const partitions = topics.get(c.topic) ?? [];
        topics.set(c.topic, partitions);
        partitions.push({
          partitionIndex: c.partition,
          committedOffset: c.offset,
          committedLeaderEpoch: metadata.topics.get(c.topic)?.partitions[c.partition]?.leaderEpoch ?? -1,
        });
      }
      const request = [...topics].map(([name, partitions]) => ({ name, partitions }));
      const producerId = producer.producerId;
      const producerEpoch = producer.producerEpoch;
      if (producerId === undefined || producerEpoch === undefined)
        throw new Error('the transactional producer has no producer id');
      for (let attempt = 1; ; attempt++) {
        try {
          const connection = await producer.connections.get(broker);
          const api = this.txnOffsetCommitV3 ? pk.txnOffsetCommitV3.api : pk.txnOffsetCommitV4.api;
          await api.async(
            connection,
            this.transactionalId,
            member.groupId,
            producerId,
            producerEpoch,
            member.generationId,
            member.memberId,
            null,
            request,
          );
          break;
        } catch (err) {
          const type = platformaticErrorType(err);
          if (type === 'UNSUPPORTED_VERSION' && !this.txnOffsetCommitV3) {
            this.txnOffsetCommitV3 = true; // a broker before Kafka 3.8: v3 carries the same fields
            continue;
          }
          // Transient coordinator states, as the client's own retry would: fenced and other errors fail the
          // transaction.
          if (attempt >= 5 || !type || !RETRIABLE_TXN_OFFSET_COMMIT.has(type)) throw err;
          await sleep(50 * attempt, this.abort.signal);
        }
      }
    }
  }

  private async transactionalProducer(): Promise<Producer<string, Buffer, string, string>> {
    if (!this.txProducer) {
      this.txProducer = loadPlatformatic().then(
        (pk) =>
          new pk.Producer<string, Buffer, string, string>({
            clientId: `${this.deps.clientId}-tx`,
            bootstrapBrokers: this.deps.brokers,
            transactionalId: this.transactionalId,
            idempotent: true,
            // InitProducerId as a NEW producer (-1/-1). The client's default (0/0) asks the coordinator to bump
            // epoch 0 of producer id 0, which it refuses with PRODUCER_FENCED once the transactional id has a
            // history, i.e. for every replacement producer after a failed transaction. As a new producer it gets
            // the next epoch, and the coordinator aborts whatever the previous producer left open.
            producerId: -1n,
            producerEpoch: -1,
            // acks=-1 is mandatory inside a transaction (and what we want anyway: all in-sync replicas).
            acks: pk.ProduceAcks.ALL,
            // Keys on the partitions kafkajs, the Java client and the file log choose (murmur2).
            partitioner: pk.compatibilityPartitioner,
            autocreateTopics: false,
            // Sent to InitProducerId as the transaction timeout.
            timeout: this.deps.settings.transactionTimeoutMs,
            retries: TX_RETRIES,
            retryDelay: txRetryDelay,
            ...platformaticConnectionOptions(this.deps),
            serializers: {
              key: pk.stringSerializer,
              value: (value?: Buffer) => value,
              headerKey: pk.stringSerializer,
              headerValue: pk.stringSerializer,
            },
          }),
      );
    }
    return this.txProducer;
  }

  private async discardTransactionalProducer(): Promise<void> {
    const slot = this.txProducer;
    this.txProducer = null;
    if (slot) await slot.then((p) => p.close(true)).catch(() => undefined);
  }
}

/** Keeps the first commit of each partition in `group`; later ones go back to the front of `queue`, in order. */
function takeDistinctPartitions(group: PendingCommit[], queue: PendingCommit[]): PendingCommit[] {
  const seen = new Set<string>();
  const kept: PendingCommit[] = [];
  const later: PendingCommit[] = [];
  for (const c of group) {
    const key = `${c.topic}:${c.partition}`;
    if (seen.has(key)) later.push(c);
    else {
      seen.add(key);
      kept.push(c);
    }
  }
  queue.unshift(...later);
  return kept;
}

function toConsumed(m: Message<Buffer, Buffer, Buffer, Buffer>): ConsumedMessage {
  const headers: Record<string, string> = {};
  // The port has one value per header; Kafka allows repeats, the last one wins (a Map keeps the last too).
  for (const [name, value] of m.headerEntries ?? m.headers ?? []) {
    if (name === undefined || name === null) continue;
    headers[name.toString()] = value === undefined || value === null ? '' : value.toString();
  }
  return {
    topic: m.topic,
    partition: m.partition,
    offset: m.offset.toString(),
    key: m.key ? m.key.toString('utf8') : null,
    value: m.value ?? Buffer.alloc(0),
    headers,
    timestamp: Number(m.timestamp),
  };
}

/** The Kafka error name (ILLEGAL_GENERATION, ...) of a @platformatic/kafka error, searched through its causes. */
export function platformaticErrorType(err: unknown, depth = 0): string | undefined {
  if (!err || typeof err !== 'object' || depth > 6) return undefined;
  const apiId = (err as { apiId?: unknown }).apiId;
  if (typeof apiId === 'string') return apiId;
  for (const inner of (err as { errors?: unknown[] }).errors ?? []) {
    const found = platformaticErrorType(inner, depth + 1);
    if (found) return found;
  }
  return platformaticErrorType((err as { cause?: unknown }).cause, depth + 1);
}
