/**
 * One consumer-group member on @platformatic/kafka, with the same port semantics as kafka-consumer.ts (kafkajs).
 * The batch loop (handler retries, commitThrough, commit retries) is batch-loop.ts; the transactions are
 * platformatic-transactions.ts. What is specific to this client stays here:
 *
 * - The client's message stream (`autocommit: false`, read_committed) feeds a queue per partition; a loop per
 *   partition hands consecutive chunks of it (`maxBatchSize` / `maxBatchBytes`) to the batch loop, at most
 *   `concurrentPartitions` partitions at once. The stream is paused while the queues hold too much.
 * - A handler that throws gets the SAME messages again (they stay at the head of the queue); `commitThrough`
 *   leaves the rest at the head for the next call.
 * - EVERY commit, with or without outputs, is a Kafka transaction whose TxnOffsetCommit carries the group
 *   generation and member id the messages were FETCHED under (KIP-447), so the group coordinator refuses the
 *   commit of a member that was fenced or rebalanced since (a zombie's commit fails instead of doubling the
 *   outputs), and the batch is redelivered to the partition's owner. (Plain OffsetCommit is not used: this
 *   client's `commit()` rejoins the group and retries under the NEW generation after ILLEGAL_GENERATION, which
 *   would commit work done under the old one.)
 * - A rebalance (new generation) drops every queue: the stream re-reads from the committed offsets, and a
 *   batch in progress sees isActive() false; its commit is refused if the generation moved on.
 * - The group heartbeat runs on the client's own timer, so long handlers keep the partition.
 * - Admin work (lag, "was it committed after all?") goes through the bus's admin client (kafka-admin.ts).
 */
import { randomUUID } from 'node:crypto';
import { type ConnectionOptions } from 'node:tls';
import type { Consumer, Message, MessagesStream } from '@platformatic/kafka';
import { type ConsumedMessage, type ConsumeOptions, type OutgoingMessage, chunkMessages } from '../event-bus.port';
import { errorMessage } from '../event-bus.logger';
import { type BatchCommit, batchLimits, runBatch } from '../batch-loop';
import { FENCED, type KafkaMemberDeps, assertOutputTopics, KafkaGroupMember, groupCommittedPast } from './kafka-group';
import { loadPlatformatic, type KafkaSaslConfig, platformaticConnectionOptions } from './publish-producer';
import { type MemberStamp, PlatformaticTransactions, platformaticErrorType } from './platformatic-transactions';

export interface PlatformaticConsumerDeps extends KafkaMemberDeps {
  brokers: string[];
  clientId: string;
  ssl?: boolean | ConnectionOptions;
  sasl?: KafkaSaslConfig;
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

/** Pause the stream above this many queued messages (all partitions together); resume below half. */
const MAX_QUEUED_MESSAGES = 5_000;

export class PlatformaticBusConsumer extends KafkaGroupMember {
  declare protected readonly deps: PlatformaticConsumerDeps;
  /** Batch.assignment: this instance and the generation its messages were fetched under. */
  private readonly instanceId = randomUUID();
  private consumer: Consumer | null = null;
  private stream: MessagesStream<Buffer, Buffer, Buffer, Buffer> | null = null;
  /** Outputs + offsets in one transaction, merged across partitions (platformatic-transactions.ts). */
  private readonly transactions: PlatformaticTransactions;
  private readonly partitions = new Map<string, PartitionState>();
  /** Per partition: the offset we last committed in this generation (never commit backwards). */
  private readonly committed = new Map<string, bigint>();
  private readonly running = new Set<Promise<void>>();
  private generation = -1;
  private queued = 0;
  private paused = false;
  private scheduled = false;

  constructor(deps: PlatformaticConsumerDeps, options: ConsumeOptions) {
    super(deps, options);
    this.transactions = new PlatformaticTransactions({
      brokers: deps.brokers,
      clientId: deps.clientId,
      ssl: deps.ssl,
      sasl: deps.sasl,
      transactionalId: this.transactionalId,
      transactionTimeoutMs: deps.settings.transactionTimeoutMs,
      consumer: () => this.consumer,
      committedPast: (topic, partition, offset) =>
        groupCommittedPast(deps.admin, options.groupId, topic, partition, offset),
      signal: this.abort.signal,
    });
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
        await this.transactions.close();
        this.deps.onStopped();
      })();
    }
    return this.stopping;
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
    const { maxCount, maxBytes } = batchLimits(this.options);
    while (state.queue.length > 0 && this.stopping === null) {
      const generation = this.generation;
      const queue = state.queue;
      const chunk = chunkMessages(queue, maxCount, maxBytes)[0];
      const active = (): boolean => this.stopping === null && this.generation === generation && state.queue === queue;
      const handled = await runBatch(this.loop, {
        batch: {
          topic: state.topic,
          partition: state.partition,
          messages: chunk.map((q) => q.message),
          // The client heartbeats on its own timer; a handler calling this only proves progress.
          heartbeat: async () => {
            this.lastProgress = Date.now();
          },
          isActive: active,
          assignment: `${this.instanceId}:${this.generation}`,
        },
        isActive: active,
        onAttempt: () => {
          this.lastProgress = Date.now();
        },
        prepare: async (result, through) => {
          await assertOutputTopics(result.outputs, this.deps.assertTopicsExist);
          const done = doneOf(chunk, through);
          if (done.length === 0 && result.outputs.length === 0) return null;
          let offset = through + 1n;
          // Whole queue done: commit past what the stream fetched (transaction markers, aborted records after the
          // last message), unless messages of this partition were dropped since the join.
          if (done.length === chunk.length && queue.length === chunk.length) {
            offset = this.maxSafeOffset(state, offset, generation);
          }
          return { outputs: result.outputs, offset, member: (done[done.length - 1] ?? chunk[0]).member };
        },
        commit: ({ outputs, offset, member }) => this.batchCommit(state, outputs, offset, member, generation),
      });
      if (!handled) return;
      const done = doneOf(chunk, handled.through);
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

  /** How a handled batch commits: under the member stamp of its fetch, given up once the generation moved on. */
  private batchCommit(
    state: PartitionState,
    outputs: OutgoingMessage[],
    offset: bigint,
    member: MemberStamp,
    generation: number,
  ): BatchCommit {
    const { topic, partition } = state;
    return {
      run: () => this.commit(topic, partition, outputs, offset, member),
      // The first attempt always goes to the coordinator, which judges the member stamp (a batch finished while
      // a rebalance is pending still commits under its generation). Retrying after the generation moved on is
      // pointless: the coordinator refuses it, and the batch is redelivered to the partition's owner.
      mayAttempt: (attempt) => attempt === 1 || this.generation === generation || this.stopping !== null,
      committedAfterAll: () => groupCommittedPast(this.deps.admin, this.options.groupId, topic, partition, offset),
      isFenced: (err) => {
        const type = platformaticErrorType(err);
        if (!type || !FENCED.has(type)) return false;
        this.deps.logger.info(
          { groupId: this.options.groupId, topic, partition, offset: offset.toString(), reason: type },
          'batch commit fenced; the batch is redelivered to the partition owner',
        );
        return true;
      },
      stopping: () => this.stopping !== null,
      logFields: (err) => ({ offset: offset.toString(), kafkaError: platformaticErrorType(err) }),
    };
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
    return this.transactions.commit({ topic, partition, outputs, offset, member }).then(() => {
      if ((this.committed.get(key) ?? -1n) < offset) this.committed.set(key, offset);
    });
  }
}

/** The queued messages of `chunk` up to `through` (the handler's commitThrough). */
function doneOf(chunk: Queued[], through: bigint): Queued[] {
  return through >= BigInt(chunk[0].message.offset) ? chunk.filter((q) => BigInt(q.message.offset) <= through) : [];
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
