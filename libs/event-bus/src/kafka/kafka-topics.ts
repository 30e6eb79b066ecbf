import { sleep, untilAborted } from '@zoom-pipeline/async-kit';
import { BusUnavailableError, type TopicSpec, UnknownTopicError } from '../event-bus.port';
import { type EventBusLogger, errorMessage } from '../event-bus.logger';
import { type KafkaAdmin } from './kafka-admin';

const TOPIC_LEADERS_WAIT_MS = 30_000;

export interface KafkaTopicsDeps {
  logger: EventBusLogger;
  /** Replication factor of created topics; -1: the broker's default.replication.factor. */
  replicationFactor: number;
  /** Admin with ordinary timeouts (createTopics takes seconds). */
  admin(): Promise<KafkaAdmin>;
  /** A metadata call on the fast admin; the bus drops that admin when the call fails. */
  listTopicsFast(): Promise<string[]>;
  /** Keeps the bus's close() waiting for work that outlives its caller. */
  inBackground<T>(work: Promise<T>): Promise<T>;
}

/**
 * The topics the bus knows exist: created or checked by `ensure`, else looked up once (one metadata call shared by
 * every caller that meets an unknown topic at the same time) before a publish or a consumer start.
 */
export class KafkaTopics {
  private readonly known = new Set<string>();
  private lookup: Promise<void> | null = null;

  constructor(private readonly deps: KafkaTopicsDeps) {}

  async ensure(topics: TopicSpec[]): Promise<void> {
    if (topics.length === 0) return;
    const admin = await this.deps.admin();
    const existing = new Set(await admin.listTopics());
    // Create only what is missing (asking the broker to create existing topics makes clients log an error on
    // every start). Existing topics keep their partition count: repartitioning would move keys.
    const missing = topics.filter((t) => !existing.has(t.topic));
    if (missing.length > 0) {
      await admin.createTopics(
        missing.map((t) => ({
          topic: t.topic,
          partitions: t.partitions,
          replicationFactor: this.deps.replicationFactor,
          compacted: t.compacted,
        })),
      );
      await this.waitForLeaders(
        admin,
        missing.map((t) => t.topic),
      );
    }
    const present = topics.filter((t) => existing.has(t.topic));
    if (present.length > 0) {
      const metadata = await admin.topicPartitions(present.map((t) => t.topic));
      for (const spec of present) {
        const actual = metadata.get(spec.topic)?.partitions;
        if (actual !== undefined && actual !== spec.partitions) {
          this.deps.logger.warn(
            { topic: spec.topic, existing: actual, requested: spec.partitions },
            'topic exists with a different partition count; keeping the existing count',
          );
        }
      }
    }
    for (const t of topics) this.known.add(t.topic);
  }

  /** Rejects with UnknownTopicError for a topic the cluster does not have, BusUnavailableError if it cannot tell. */
  async assertExist(topics: string[], signal: AbortSignal): Promise<void> {
    if (topics.every((t) => this.known.has(t))) return;
    try {
      await untilAborted(this.refresh(), signal);
    } catch (err) {
      throw err instanceof BusUnavailableError
        ? err
        : new BusUnavailableError(`cannot read kafka topic metadata: ${errorMessage(err)}`, { cause: err });
    }
    const missing = topics.find((t) => !this.known.has(t));
    if (missing !== undefined) throw new UnknownTopicError(missing);
  }

  /** Polls metadata until every partition of `topics` has a leader, so a publish right after succeeds. */
  private async waitForLeaders(admin: KafkaAdmin, topics: string[]): Promise<void> {
    const deadlineAt = Date.now() + TOPIC_LEADERS_WAIT_MS;
    for (;;) {
      try {
        const metadata = await admin.topicPartitions(topics);
        if (topics.every((t) => metadata.get(t)?.led === true)) return;
      } catch (err) {
        if (Date.now() >= deadlineAt) throw err;
      }
      if (Date.now() >= deadlineAt)
        throw new Error(`topics ${topics.join(', ')} have no leaders after ${TOPIC_LEADERS_WAIT_MS} ms`);
      await sleep(100);
    }
  }

  private refresh(): Promise<void> {
    this.lookup ??= this.deps
      .inBackground(
        (async () => {
          for (const topic of await this.deps.listTopicsFast()) this.known.add(topic);
        })(),
      )
      .finally(() => {
        this.lookup = null;
      });
    return this.lookup;
  }
}
