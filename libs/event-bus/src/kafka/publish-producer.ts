/**
 * The producer behind KafkaEventBus.publish (the ingress ack path), on one of two clients:
 *
 * - `platformatic` (default, as for the consumers): `@platformatic/kafka` 2.x, measured on the ingress's publish
 * pattern at about half the CPU
 *   per message and a third of the p99 of kafkajs (BENCHMARKS.md, "Experiment: the publish client").
 * - `kafkajs`: kafkajs 2.2.4.
 *
 * Both give the same guarantees: idempotent producer, acks=-1, keys on the partitions kafkajs, the Java client
 * and the file log choose (murmur2 & 0x7fffffff: platformatic's *default* partitioner differs, so its
 * `compatibilityPartitioner` is used), no topic auto-creation, requests bounded by the publish timeout. The bus
 * discards a producer after any failed or abandoned send, so a new one (new producer id) carries the next batch.
 * The bus picks the client (`publishClient`, default: the bus's `client`); admin calls stay on kafkajs.
 */
import { type ConnectionOptions } from 'node:tls';
import { CompressionTypes, type Kafka, Partitioners, type ProducerConfig } from 'kafkajs';
import { type OutgoingMessage } from '../event-bus.port';
import { toTopicMessages } from './kafka-messages';

export type KafkaSaslConfig = {
  mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512';
  username: string;
  password: string;
};

/** The publish producer's settings (exported so a unit test can pin the guarantees they encode). */
export function publishProducerConfig(): ProducerConfig {
  return {
    // Idempotent + one request in flight: broker-side dedup of retried sends, and no reordering on retry.
    idempotent: true,
    maxInFlightRequests: 1,
    // murmur2 like the Java client: a key maps to the same partition from any producer (and the file log).
    createPartitioner: Partitioners.DefaultPartitioner,
    // Topics are created up front with explicit partition counts; never by a stray publish.
    allowAutoTopicCreation: false,
    // Bounded so a send fails within the ack deadline instead of retrying forever (kafkajs's default for
    // idempotent producers); safe because a failed producer is replaced, see the file comment.
    retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 1_000 },
  };
}

/** Acks for every publish: -1 = all in-sync replicas (SPEC §3 "Kafka acks=all"). */
export const PUBLISH_ACKS = -1;

export type PublishClientName = 'kafkajs' | 'platformatic';

export interface PublishProducer {
  /** Resolves once the producer can send (kafkajs connects first; platformatic connects on the first send). */
  readonly ready: Promise<void>;
  /** One coalesced batch, acknowledged by all in-sync replicas, or a rejection. */
  send(messages: OutgoingMessage[]): Promise<void>;
  close(): Promise<void>;
}

export interface PublishProducerSettings {
  brokers: string[];
  clientId: string;
  publishTimeoutMs: number;
  ssl?: boolean | ConnectionOptions;
  sasl?: KafkaSaslConfig;
}

export function kafkajsPublishProducer(kafka: Kafka, publishTimeoutMs: number): PublishProducer {
  const producer = kafka.producer(publishProducerConfig());
  return {
    ready: producer.connect(),
    send: async (messages) => {
      await producer.sendBatch({
        topicMessages: toTopicMessages(messages),
        acks: PUBLISH_ACKS,
        // Broker-side wait for the in-sync replicas; never longer than the caller waits.
        timeout: publishTimeoutMs,
        compression: CompressionTypes.None,
      });
    },
    close: () => producer.disconnect(),
  };
}

export type PlatformaticModule = typeof import('@platformatic/kafka');
let platformatic: Promise<PlatformaticModule> | undefined;

/** The package is ESM-only: loaded on first use (Node ≥ 20.19 requires it from CommonJS), never at import time. */
export function loadPlatformatic(): Promise<PlatformaticModule> {
  platformatic ??= import('@platformatic/kafka');
  return platformatic;
}

/** TLS and SASL options of a @platformatic/kafka client (shared by the publish producer and the consumer). */
export function platformaticConnectionOptions(settings: Pick<PublishProducerSettings, 'ssl' | 'sasl'>): {
  tls?: ConnectionOptions;
  sasl?: { mechanism: 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512'; username: string; password: string };
} {
  const tls =
    settings.ssl === true ? {} : settings.ssl === false || settings.ssl === undefined ? undefined : settings.ssl;
  return {
    ...(tls ? { tls } : {}),
    ...(settings.sasl
      ? {
          sasl: {
            mechanism: settings.sasl.mechanism.toUpperCase() as 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512',
            username: settings.sasl.username,
            password: settings.sasl.password,
          },
        }
      : {}),
  };
}

export function platformaticPublishProducer(settings: PublishProducerSettings): PublishProducer {
  const created = loadPlatformatic().then((pk) => {
    return new pk.Producer<string, Buffer, string, string>({
      clientId: settings.clientId,
      bootstrapBrokers: settings.brokers,
      idempotent: true,
      acks: pk.ProduceAcks.ALL,
      partitioner: pk.compatibilityPartitioner,
      autocreateTopics: false,
      connectTimeout: Math.min(1_000, settings.publishTimeoutMs),
      requestTimeout: settings.publishTimeoutMs,
      timeout: settings.publishTimeoutMs,
      retries: 5,
      retryDelay: 100,
      ...platformaticConnectionOptions(settings),
      serializers: {
        key: pk.stringSerializer,
        value: (value?: Buffer) => value,
        headerKey: pk.stringSerializer,
        headerValue: pk.stringSerializer,
      },
    });
  });
  return {
    ready: created.then(() => undefined),
    send: async (messages) => {
      const producer = await created;
      await producer.send({ messages: toPlatformaticMessages(messages) });
    },
    close: async () => {
      const producer = await created;
      // force: in-flight requests of a discarded producer are abandoned, not awaited.
      await producer.close(true);
    },
  };
}

/** Port messages as @platformatic/kafka sends them (the publish producer and the consumers' transactions). */
export function toPlatformaticMessages(messages: OutgoingMessage[]): Array<{
  topic: string;
  key: string | undefined;
  value: Buffer;
  headers: Map<string, string> | undefined;
}> {
  return messages.map((m) => ({
    topic: m.topic,
    key: m.key ?? undefined,
    value: m.value,
    headers: m.headers ? new Map(Object.entries(m.headers)) : undefined,
  }));
}
