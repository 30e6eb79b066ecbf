/**
 * The admin calls the Kafka event bus needs (topics, readiness, group offsets), on either client. With the
 * default client (@platformatic/kafka) the running apps never load kafkajs at all; `KAFKA_CLIENT=kafkajs` keeps
 * everything on kafkajs.
 */
import { type Admin, type Kafka } from 'kafkajs';
import { type KafkaSaslConfig, loadPlatformatic, platformaticConnectionOptions } from './publish-producer';
import { type ConnectionOptions } from 'node:tls';

const COMPACT = { name: 'cleanup.policy', value: 'compact' };

export interface TopicPartitions {
  /** Partitions the broker reports for the topic (0 while it is still being created). */
  partitions: number;
  /** Every partition has a leader: a publish right now would find one. */
  led: boolean;
}

export interface KafkaAdmin {
  /** Resolves once connected (rejects when the cluster cannot be reached within the client's retries). */
  readonly ready: Promise<void>;
  listTopics(): Promise<string[]>;
  /** Creates the topics without waiting for their leaders (see `topicPartitions`). */
  createTopics(
    topics: Array<{ topic: string; partitions: number; replicationFactor: number; compacted?: boolean }>,
  ): Promise<void>;
  topicPartitions(topics: string[]): Promise<Map<string, TopicPartitions>>;
  /** A metadata round trip: the cluster answers. */
  ping(): Promise<void>;
  /** The group's committed offset per partition of `topic` (-1 where it has none). */
  committedOffsets(groupId: string, topic: string): Promise<Map<number, bigint>>;
  /** Earliest and next offsets per partition of `topic`. */
  offsetRange(topic: string): Promise<Map<number, { low: bigint; high: bigint }>>;
  close(): Promise<void>;
}

export function kafkajsAdmin(
  kafka: Kafka,
  retry?: { retries: number; initialRetryTime: number; maxRetryTime: number },
): KafkaAdmin {
  const admin: Admin = kafka.admin(retry ? { retry } : undefined);
  return {
    ready: admin.connect(),
    listTopics: () => admin.listTopics(),
    async createTopics(topics) {
      await admin.createTopics({
        // kafkajs's own wait gives up on the first UNKNOWN_TOPIC_OR_PARTITION, which a broker still applying the
        // controller's metadata answers for a moment; the bus waits for the leaders itself.
        waitForLeaders: false,
        topics: topics.map((t) => ({
          topic: t.topic,
          numPartitions: t.partitions,
          replicationFactor: t.replicationFactor,
          ...(t.compacted ? { configEntries: [COMPACT] } : {}),
        })),
      });
    },
    async topicPartitions(topics) {
      const { topics: metadata } = await admin.fetchTopicMetadata({ topics });
      return new Map(
        metadata.map((m) => [
          m.name,
          { partitions: m.partitions.length, led: m.partitions.length > 0 && m.partitions.every((p) => p.leader >= 0) },
        ]),
      );
    },
    async ping() {
      await admin.describeCluster();
    },
    async committedOffsets(groupId, topic) {
      const committed = await admin.fetchOffsets({ groupId, topics: [topic] });
      const partitions = committed.find((c) => c.topic === topic)?.partitions ?? [];
      return new Map(partitions.map((p) => [p.partition, /^\d+$/.test(p.offset) ? BigInt(p.offset) : -1n]));
    },
    async offsetRange(topic) {
      const offsets = await admin.fetchTopicOffsets(topic);
      return new Map(offsets.map((o) => [o.partition, { low: BigInt(o.low), high: BigInt(o.high) }]));
    },
    close: () => admin.disconnect(),
  };
}

export interface PlatformaticAdminSettings {
  brokers: string[];
  clientId: string;
  ssl?: boolean | ConnectionOptions;
  sasl?: KafkaSaslConfig;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  retries: number;
  retryDelayMs: number;
}

export function platformaticAdmin(settings: PlatformaticAdminSettings): KafkaAdmin {
  const created = loadPlatformatic().then((pk) => ({
    pk,
    admin: new pk.Admin({
      clientId: settings.clientId,
      bootstrapBrokers: settings.brokers,
      connectTimeout: settings.connectTimeoutMs,
      requestTimeout: settings.requestTimeoutMs,
      timeout: settings.requestTimeoutMs,
      retries: settings.retries,
      retryDelay: settings.retryDelayMs,
      ...platformaticConnectionOptions(settings),
    }),
  }));
  // The client connects lazily: a metadata call proves the cluster answers.
  const ready = created.then(({ admin }) => admin.metadata({ topics: [] })).then(() => undefined);
  return {
    ready,
    listTopics: async () => (await created).admin.listTopics(),
    async createTopics(topics) {
      const { admin } = await created;
      // One request per replication setting is enough here: the bus asks for one factor for all its topics.
      for (const t of topics) {
        await admin.createTopics({
          topics: [t.topic],
          partitions: t.partitions,
          replicas: t.replicationFactor,
          ...(t.compacted ? { configs: [COMPACT] } : {}),
        });
      }
    },
    async topicPartitions(topics) {
      const { admin } = await created;
      const metadata = await admin.metadata({ topics, forceUpdate: true });
      const result = new Map<string, TopicPartitions>();
      for (const [name, m] of metadata.topics) {
        if (!topics.includes(name)) continue;
        const partitions = m.partitions.length;
        result.set(name, {
          partitions,
          led: partitions > 0 && m.partitions.every((p) => p !== undefined && p.leader >= 0),
        });
      }
      return result;
    },
    async ping() {
      const { admin } = await created;
      await admin.metadata({ topics: [], forceUpdate: true });
    },
    async committedOffsets(groupId, topic) {
      const { admin } = await created;
      const groups = await admin.listConsumerGroupOffsets({
        groups: [{ groupId, topics: [{ name: topic, partitionIndexes: await partitionIndexes(admin, topic) }] }],
      });
      const partitions =
        groups.find((g) => g.groupId === groupId)?.topics.find((t) => t.name === topic)?.partitions ?? [];
      return new Map(partitions.map((p) => [p.partitionIndex, p.committedOffset >= 0n ? p.committedOffset : -1n]));
    },
    async offsetRange(topic) {
      const { pk, admin } = await created;
      const indexes = await partitionIndexes(admin, topic);
      const at = async (timestamp: bigint): Promise<Map<number, bigint>> => {
        const listed = await admin.listOffsets({
          topics: [{ name: topic, partitions: indexes.map((partitionIndex) => ({ partitionIndex, timestamp })) }],
        });
        return new Map(
          (listed.find((t) => t.name === topic)?.partitions ?? []).map((p) => [p.partitionIndex, p.offset]),
        );
      };
      const [low, high] = await Promise.all([at(pk.ListOffsetTimestamps.EARLIEST), at(pk.ListOffsetTimestamps.LATEST)]);
      return new Map(indexes.map((i) => [i, { low: low.get(i) ?? 0n, high: high.get(i) ?? 0n }]));
    },
    close: async () => {
      const { admin } = await created;
      await admin.close();
    },
  };
}

async function partitionIndexes(
  admin: { metadata(o: { topics: string[] }): Promise<{ topics: Map<string, { partitionsCount: number }> }> },
  topic: string,
): Promise<number[]> {
  const metadata = await admin.metadata({ topics: [topic] });
  return Array.from({ length: metadata.topics.get(topic)?.partitionsCount ?? 0 }, (_, i) => i);
}
