/**
 * The cluster-mode event bus. Consumers and their transactions on @platformatic/kafka (platformatic-consumer.ts,
 * the default) or kafkajs 2.2.4 (kafka-consumer.ts), chosen by `client`; the publish producer on either
 * (`publishClient`, default: `client`; see publish-producer.ts); admin calls on `client` too (kafka-admin.ts); the
 * topics it knows exist in kafka-topics.ts.
 *
 * Publishing (the ingress ack path, SPEC §3): an idempotent producer with acks=-1 (all in-sync replicas) and
 * one batch in flight, so a retried send can neither duplicate nor reorder records. Concurrent publish calls are
 * coalesced into one send (see publish-batcher.ts). Every publish settles by its deadline: the caller's
 * AbortSignal (the ingress owns the ack deadline and passes it down), else `publishTimeoutMs` owned here. Nothing
 * below starts a timer of its own for it: the topic check and the batcher wait on the signal, and a send whose
 * callers have all given up is abandoned with BusUnavailableError (the ingress answers 503, Zoom retries; a late
 * landing is suppressed by dedup). The producer's own retries and timeouts are sized to fit in the deadline.
 *
 * Recovery without outside help: after any failed or abandoned send the producer is discarded and the next
 * batch goes out on a new one. That also keeps idempotence sound with bounded retries: a new producer gets a
 * new producer id, so a sequence number the broker may already have seen is never reused for other records.
 *
 * Consuming: see kafka-consumer.ts / platformatic-consumer.ts (manual commits, transactions for outputs + offsets,
 * redelivery, fencing by group generation).
 */
import { type ConnectionOptions } from 'node:tls';
import { withDeadline, withTimeout } from '@zoom-pipeline/async-kit';
import { type ISocketFactory, Kafka, type KafkaConfig, type SASLOptions } from 'kafkajs';
import {
  BusUnavailableError,
  type ConsumeOptions,
  type ConsumerHandle,
  type EventBus,
  type OutgoingMessage,
  type PublishOptions,
  type TopicSpec,
} from '../event-bus.port';
import { consoleEventBusLogger, type EventBusLogger, errorMessage, type LogLevelName } from '../event-bus.logger';
import { DEFAULT_RETRY_BACKOFF, type RetryBackoff } from '../retry-backoff';
import { type KafkaAdmin, kafkajsAdmin, platformaticAdmin } from './kafka-admin';
import { KafkaBusConsumer } from './kafka-consumer';
import { type KafkaConsumerSettings } from './kafka-group';
import { KafkaTopics } from './kafka-topics';
import { PlatformaticBusConsumer } from './platformatic-consumer';
import { kafkaLogCreator, toKafkaLogLevel } from './kafka-log';
import { PublishBatcher, type PublishBatcherStats } from './publish-batcher';
import {
  type KafkaSaslConfig,
  type PublishClientName,
  type PublishProducer,
  kafkajsPublishProducer,
  platformaticPublishProducer,
} from './publish-producer';

export { type KafkaSaslConfig, PUBLISH_ACKS, publishProducerConfig } from './publish-producer';

export interface KafkaEventBusOptions {
  brokers: string[];
  clientId: string;
  /** The ingress ack deadline: a publish not acknowledged by then rejects with BusUnavailableError. Default 2.5 s. */
  publishTimeoutMs?: number;
  ssl?: boolean | ConnectionOptions;
  sasl?: KafkaSaslConfig;
  logger?: EventBusLogger;
  /** Level below which kafkajs's own logs are not even produced. Default warn. */
  kafkaLogLevel?: LogLevelName;
  /** Replication factor for ensureTopics; default: the broker's default.replication.factor. */
  replicationFactor?: number;
  /**
   * Caps per coalesced sendBatch. Bytes default to 900 KiB: the broker's default max.message.bytes (1 MiB) applies per
   * partition batch.
   */
  maxBatchMessages?: number;
  maxBatchBytes?: number;
  /** Extra wait before a send from idle (0 = one event-loop turn). Default 0. */
  lingerMs?: number;
  /** Timeout of the isReady() metadata call. Default 1 s. */
  readyTimeoutMs?: number;
  /** Backoff between redeliveries of a failed batch. Default 200 ms doubling to 30 s. */
  retryBackoff?: RetryBackoff;
  consumer?: Partial<KafkaConsumerSettings>;
  /** Custom sockets (proxies, and tests that simulate a broker outage); kafkajs connections only. */
  socketFactory?: ISocketFactory;
  /** Client of the publish producer (see publish-producer.ts). Default: `client`. */
  publishClient?: PublishClientName;
  /**
   * Client of the consumers and their transactions (platformatic-consumer.ts or kafka-consumer.ts). Default
   * platformatic.
   */
  client?: KafkaClientName;
  /**
   * KAFKA_GROUP_PREFIX: prepended to every consumer group id, so pipelines sharing a cluster keep their groups apart.
   */
  groupPrefix?: string;
}

/** The Kafka client libraries the adapter can run on (consumers, transactions, admin calls). */
export type KafkaClientName = PublishClientName;

export const DEFAULT_PUBLISH_TIMEOUT_MS = 2_500;
/** How long close() waits for abandoned sends and metadata calls to finish their (bounded) retries. */
const CLOSE_BACKGROUND_WAIT_MS = 10_000;
const CONSUMER_TOPIC_CHECK_MS = 30_000;

const DEFAULT_CONSUMER_SETTINGS: KafkaConsumerSettings = {
  sessionTimeoutMs: 30_000,
  rebalanceTimeoutMs: 60_000,
  heartbeatIntervalMs: 3_000,
  maxWaitTimeMs: 500,
  partitionsConsumedConcurrently: 4,
  transactionTimeoutMs: 60_000,
  stallTimeoutMs: 5 * 60_000,
};

export class KafkaEventBus implements EventBus {
  private readonly logger: EventBusLogger;
  private readonly publishTimeoutMs: number;
  private readonly readyTimeoutMs: number;
  /** Client for the publish path: short connection/request timeouts so a dead broker fails fast. */
  private readonly fastKafka: Kafka;
  /** Client for consumers and admin work: ordinary timeouts (group joins and createTopics take seconds). */
  private readonly kafka: Kafka;
  private readonly batcher: PublishBatcher;
  private readonly consumerSettings: KafkaConsumerSettings;
  private readonly backoff: RetryBackoff;
  private readonly consumers = new Set<KafkaBusConsumer | PlatformaticBusConsumer>();
  private readonly topics: KafkaTopics;
  private producer: PublishProducer | null = null;
  private fastAdmin: KafkaAdmin | null = null;
  private slowAdmin: KafkaAdmin | null = null;
  private readiness: Promise<boolean> | null = null;
  private producersCreated = 0;
  private closed = false;
  /**
   * Work that outlives its caller: sends abandoned at the deadline and metadata calls raced against one finish
   * on their own (bounded by the client's retries). close() waits for them so nothing runs after it.
   */
  private readonly background = new Set<Promise<void>>();

  constructor(private readonly options: KafkaEventBusOptions) {
    this.logger = options.logger ?? consoleEventBusLogger();
    this.publishTimeoutMs = options.publishTimeoutMs ?? DEFAULT_PUBLISH_TIMEOUT_MS;
    this.readyTimeoutMs = options.readyTimeoutMs ?? 1_000;
    this.consumerSettings = { ...DEFAULT_CONSUMER_SETTINGS, ...options.consumer };
    this.backoff = options.retryBackoff ?? DEFAULT_RETRY_BACKOFF;
    const base: KafkaConfig = {
      clientId: options.clientId,
      brokers: options.brokers,
      ssl: options.ssl,
      sasl: options.sasl as SASLOptions | undefined,
      socketFactory: options.socketFactory,
      logLevel: toKafkaLogLevel(options.kafkaLogLevel ?? 'warn'),
      logCreator: kafkaLogCreator(this.logger),
    };
    this.fastKafka = new Kafka({
      ...base,
      connectionTimeout: Math.min(1_000, this.publishTimeoutMs),
      requestTimeout: this.publishTimeoutMs,
      enforceRequestTimeout: true,
      retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 1_000 },
    });
    this.kafka = new Kafka({
      ...base,
      connectionTimeout: 3_000,
      requestTimeout: 30_000,
      enforceRequestTimeout: true,
      retry: { retries: 8, initialRetryTime: 300, maxRetryTime: 10_000 },
    });
    this.logger.info(
      { brokers: options.brokers.join(','), client: this.client(), publishClient: this.publishClient() },
      'kafka event bus',
    );
    this.topics = new KafkaTopics({
      logger: this.logger,
      replicationFactor: options.replicationFactor ?? -1,
      admin: () => this.admin(),
      listTopicsFast: () => this.listTopicsFast(),
      inBackground: (work) => this.inBackground(work),
    });
    this.batcher = new PublishBatcher({
      send: (messages) => this.inBackground(this.send(messages)),
      onSendAbandoned: () => this.discardProducer(this.producer),
      maxBatchMessages: options.maxBatchMessages ?? 1_000,
      maxBatchBytes: options.maxBatchBytes ?? 900 * 1024,
      lingerMs: options.lingerMs ?? 0,
    });
  }

  async publish(messages: OutgoingMessage[], options: PublishOptions = {}): Promise<void> {
    if (this.closed) throw new BusUnavailableError('event bus is closed');
    if (messages.length === 0) return;
    if (options.signal) return this.publishUntil(messages, options.signal);
    // No caller deadline (publishers other than the ingress): the bus's own, owned here the same way.
    return withDeadline(
      this.publishTimeoutMs,
      (signal) => this.publishUntil(messages, signal),
      () => new BusUnavailableError(`publish not acknowledged within ${this.publishTimeoutMs} ms`),
    );
  }

  /** Everything on the publish path waits on `signal` (the one deadline), never on a timer of its own. */
  private async publishUntil(messages: OutgoingMessage[], signal: AbortSignal): Promise<void> {
    // Check topics before queueing: a publish to a missing topic inside a coalesced batch would make kafkajs
    // retry metadata and then fail every other caller's messages in that batch too.
    await this.topics.assertExist(
      messages.map((m) => m.topic),
      signal,
    );
    return this.batcher.publish(messages, signal);
  }

  ensureTopics(topics: TopicSpec[]): Promise<void> {
    return this.topics.ensure(topics);
  }

  async consume(requested: ConsumeOptions): Promise<ConsumerHandle> {
    if (this.closed) throw new BusUnavailableError('event bus is closed');
    const options = this.options.groupPrefix
      ? { ...requested, groupId: `${this.options.groupPrefix}${requested.groupId}` }
      : requested;
    await this.assertTopicsExistWithin(options.topics, CONSUMER_TOPIC_CHECK_MS);
    const common = {
      admin: () => this.admin(),
      assertTopicsExist: (topics: string[]) => this.assertTopicsExistWithin(topics, CONSUMER_TOPIC_CHECK_MS),
      logger: this.logger,
      backoff: this.backoff,
      settings: this.consumerSettings,
      onStopped: () => this.consumers.delete(consumer),
    };
    const consumer: KafkaBusConsumer | PlatformaticBusConsumer =
      this.client() === 'platformatic'
        ? new PlatformaticBusConsumer(
            {
              ...common,
              brokers: this.options.brokers,
              clientId: this.options.clientId,
              ssl: this.options.ssl,
              sasl: this.options.sasl,
            },
            options,
          )
        : new KafkaBusConsumer({ ...common, kafka: this.kafka }, options);
    this.consumers.add(consumer);
    try {
      await consumer.start();
    } catch (err) {
      await consumer.stop();
      throw err;
    }
    return consumer;
  }

  /** The client of consumers and transactions. */
  client(): KafkaClientName {
    // platformatic: its transactional offset commits are fenced by the group generation (KIP-447), kafkajs's are not.
    return this.options.client ?? 'platformatic';
  }

  /** The client of the publish producer: its own setting, else the bus's client. */
  publishClient(): PublishClientName {
    return this.options.publishClient ?? this.client();
  }

  /** A metadata round trip with a short timeout, shared by concurrent callers (/readyz may be polled often). */
  isReady(): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    if (!this.readiness) {
      this.readiness = settleBy(
        this.inBackground(
          (async () => {
            const admin = await this.connectedFastAdmin();
            await admin.ping();
          })(),
        ),
        Date.now() + this.readyTimeoutMs,
        'metadata request',
      )
        .then(() => true)
        .catch(() => {
          this.discardFastAdmin(this.fastAdmin);
          return false;
        })
        .finally(() => {
          this.readiness = null;
        });
    }
    return this.readiness;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Queued publishes either go out or hit their deadline; then consumers commit their last batch and leave.
    await this.batcher.drain();
    await Promise.all([...this.consumers].map((c) => c.stop()));
    if (this.producer) this.retireProducer(this.producer);
    if (this.fastAdmin) this.retireAdmin(this.fastAdmin);
    if (this.slowAdmin) this.retireAdmin(this.slowAdmin);
    this.producer = null;
    this.fastAdmin = null;
    this.slowAdmin = null;
    // Finishing work can retire clients (adding more work), hence the loop.
    const deadlineAt = Date.now() + CLOSE_BACKGROUND_WAIT_MS;
    while (this.background.size > 0 && Date.now() < deadlineAt) {
      await settleBy(Promise.all([...this.background]), deadlineAt, 'background work').catch(() => undefined);
    }
    if (this.background.size > 0) {
      this.logger.warn({ pending: this.background.size }, 'kafka event bus closed with requests still pending');
    }
  }

  private inBackground<T>(work: Promise<T>): Promise<T> {
    const settled = work.then(
      () => undefined,
      () => undefined,
    );
    this.background.add(settled);
    void settled.finally(() => this.background.delete(settled));
    return work;
  }

  /** Publish-path counters: `batches` far below the number of publish calls means coalescing works. */
  stats(): Readonly<PublishBatcherStats & { producersCreated: number }> {
    return { ...this.batcher.stats, producersCreated: this.producersCreated };
  }

  private async send(messages: OutgoingMessage[]): Promise<void> {
    const slot = await this.connectedProducer();
    try {
      await slot.send(messages);
    } catch (err) {
      this.discardProducer(slot);
      throw new BusUnavailableError(`kafka did not acknowledge the publish: ${errorMessage(err)}`, { cause: err });
    } finally {
      // A send abandoned at the deadline may have reconnected its (already discarded) producer while retrying.
      if (this.producer !== slot) this.retireProducer(slot);
    }
  }

  private async connectedProducer(): Promise<PublishProducer> {
    if (!this.producer) {
      this.producer =
        this.publishClient() === 'platformatic'
          ? platformaticPublishProducer({
              brokers: this.options.brokers,
              clientId: this.options.clientId,
              publishTimeoutMs: this.publishTimeoutMs,
              ssl: this.options.ssl,
              sasl: this.options.sasl,
            })
          : kafkajsPublishProducer(this.fastKafka, this.publishTimeoutMs);
      this.producersCreated += 1;
    }
    const slot = this.producer;
    try {
      await slot.ready;
      return slot;
    } catch (err) {
      this.discardProducer(slot);
      throw new BusUnavailableError(`cannot connect to kafka: ${errorMessage(err)}`, { cause: err });
    }
  }

  /** Drops a producer that failed or got stuck; the next batch creates a new one (with a new producer id). */
  private discardProducer(slot: PublishProducer | null): void {
    if (!slot || this.producer !== slot) return;
    this.producer = null;
    this.retireProducer(slot);
  }

  private retireProducer(slot: PublishProducer): void {
    this.retire({ disconnect: () => slot.close() }, slot.ready);
  }

  /** The topic check of a consumer (off the ack path), under a deadline of its own. */
  private assertTopicsExistWithin(topics: string[], ms: number): Promise<void> {
    return withDeadline(
      ms,
      (signal) => this.topics.assertExist(topics, signal),
      () => new BusUnavailableError('topic metadata did not complete in time'),
    );
  }

  /** listTopics on the fast admin, dropped when the call fails (the next call connects afresh). */
  private async listTopicsFast(): Promise<string[]> {
    const admin = await this.connectedFastAdmin();
    try {
      return await admin.listTopics();
    } catch (err) {
      this.discardFastAdmin(this.fastAdmin);
      throw err;
    }
  }

  private async connectedFastAdmin(): Promise<KafkaAdmin> {
    this.fastAdmin ??=
      this.client() === 'platformatic'
        ? platformaticAdmin({
            ...this.platformaticSettings(),
            connectTimeoutMs: Math.min(1_000, this.publishTimeoutMs),
            requestTimeoutMs: this.publishTimeoutMs,
            retries: 2,
            retryDelayMs: 100,
          })
        : kafkajsAdmin(this.fastKafka, { retries: 2, initialRetryTime: 100, maxRetryTime: 500 });
    const slot = this.fastAdmin;
    try {
      await slot.ready;
      return slot;
    } catch (err) {
      this.discardFastAdmin(slot);
      throw err;
    }
  }

  private platformaticSettings(): {
    brokers: string[];
    clientId: string;
    ssl?: KafkaEventBusOptions['ssl'];
    sasl?: KafkaSaslConfig;
  } {
    return {
      brokers: this.options.brokers,
      clientId: this.options.clientId,
      ssl: this.options.ssl,
      sasl: this.options.sasl,
    };
  }

  /**
   * Disconnects a dropped client now AND once its connect() settles: kafkajs keeps retrying a connect that is
   * in flight, and without the second disconnect a client dropped mid-connect (outage, deadline) would come
   * back to life as a leaked connection once the broker is reachable again.
   */
  private retire(client: { disconnect(): Promise<void> }, ready: Promise<void>): void {
    void client.disconnect().catch(() => undefined);
    void this.inBackground(
      ready
        .then(
          () => undefined,
          () => undefined,
        )
        .then(() => client.disconnect().catch(() => undefined)),
    );
  }

  /** Drops an admin connection that failed; the next metadata call connects afresh. */
  private discardFastAdmin(slot: KafkaAdmin | null): void {
    if (!slot) return;
    if (this.fastAdmin === slot) this.fastAdmin = null;
    this.retireAdmin(slot);
  }

  private retireAdmin(admin: KafkaAdmin): void {
    this.retire({ disconnect: () => admin.close() }, admin.ready);
  }

  private async admin(): Promise<KafkaAdmin> {
    this.slowAdmin ??=
      this.client() === 'platformatic'
        ? platformaticAdmin({
            ...this.platformaticSettings(),
            connectTimeoutMs: 3_000,
            requestTimeoutMs: 30_000,
            retries: 8,
            retryDelayMs: 300,
          })
        : kafkajsAdmin(this.kafka);
    const slot = this.slowAdmin;
    try {
      await slot.ready;
      return slot;
    } catch (err) {
      if (this.slowAdmin === slot) this.slowAdmin = null;
      this.retireAdmin(slot);
      throw err;
    }
  }
}

/** Rejects with BusUnavailableError at `deadlineAt`; the work itself continues (and is bounded by its own retries). */
function settleBy<T>(work: Promise<T>, deadlineAt: number, what: string): Promise<T> {
  return withTimeout(work, deadlineAt - Date.now(), () => {
    throw new BusUnavailableError(`${what} did not complete in time`);
  });
}
