/** What both Kafka consumers share: their settings and deps, what they ask the group, how they recognise fencing. */
import { randomBytes } from 'node:crypto';
import { type BatchLoopDeps, batchLoopDeps } from '../batch-loop';
import { type ConsumeOptions, type ConsumerHandle, type OutgoingMessage } from '../event-bus.port';
import { type EventBusLogger } from '../event-bus.logger';
import { type RetryBackoff } from '../retry-backoff';
import { type KafkaAdmin } from './kafka-admin';

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

/** What the bus gives a consumer-group member, whichever client it runs on. */
export interface KafkaMemberDeps {
  admin(): Promise<KafkaAdmin>;
  /** Throws UnknownTopicError for output topics that do not exist. */
  assertTopicsExist(topics: string[]): Promise<void>;
  logger: EventBusLogger;
  backoff: RetryBackoff;
  settings: KafkaConsumerSettings;
  onStopped(): void;
}

/** What both members keep: the shared batch loop, stopping and health, lag through the admin client. */
export abstract class KafkaGroupMember implements ConsumerHandle {
  protected readonly abort = new AbortController();
  protected readonly loop: BatchLoopDeps;
  /**
   * Unique per member: transactional ids must not be shared by two live producers (the broker fences the older
   * one). Zombie fencing across members is therefore by group generation (kafkajs: plain commits and the fenced
   * checks; platformatic: KIP-447), not by transactional id; downstream dedup covers the remaining window.
   */
  protected readonly transactionalId: string;
  protected stopping: Promise<void> | null = null;
  protected fatal = false;
  protected lastProgress = Date.now();

  constructor(
    protected readonly deps: KafkaMemberDeps,
    protected readonly options: ConsumeOptions,
  ) {
    this.loop = batchLoopDeps(options, deps, this.abort.signal);
    this.transactionalId = `${options.groupId}-${randomBytes(6).toString('hex')}`;
  }

  abstract stop(): Promise<void>;

  isHealthy(): boolean {
    return !this.stopping && !this.fatal && Date.now() - this.lastProgress < this.deps.settings.stallTimeoutMs;
  }

  lag(): Promise<Array<{ topic: string; partition: number; lag: number }>> {
    return groupLag(this.deps.admin, this.options);
  }
}

/** Kafka errors after which a member must not commit: another member may own the partition now. */
export const FENCED = new Set(['ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID', 'FENCED_INSTANCE_ID']);

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

/** Before a commit: every output topic exists (UnknownTopicError otherwise, handled like a handler throw). */
export async function assertOutputTopics(
  outputs: OutgoingMessage[],
  assertTopicsExist: (topics: string[]) => Promise<void>,
): Promise<void> {
  const topics = [...new Set(outputs.map((o) => o.topic))];
  if (topics.length > 0) await assertTopicsExist(topics);
}
