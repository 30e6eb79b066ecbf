import { Catch, type INestApplication, type RpcExceptionFilter } from '@nestjs/common';
import {
  type CustomTransportStrategy,
  type MessageHandler,
  type NestMicroservice,
  Server,
} from '@nestjs/microservices';
import { HealthService, LOGGER, METRICS_REGISTRY, consumerLagGauge } from '@zoom-pipeline/service-kit';
import {
  ATTR,
  type Context,
  type Logger,
  type Span,
  SpanKind,
  context,
  extractContext,
  kafkaAttributes,
  recordFailure,
  trace,
  tracer,
} from '@zoom-pipeline/telemetry';
import { Gauge, type Registry } from 'prom-client';
import { lastValueFrom, throwError } from 'rxjs';
import { BackgroundConsumer } from '../background-consumer';
import { type Batch, type BatchResult, type ConsumedMessage, EVENT_BUS, type EventBus } from '../event-bus.port';
import { BUS_TRANSPORT, type BusHandlerOptions, type HandlerBatch } from './bus-handler.decorator';
import {
  DEFAULT_RECORD_ERROR_POLICY,
  type HeadState,
  type RecordErrorPolicy,
  deadLetter,
  isTransientError,
  isolateRecords,
  shouldIsolate,
} from './record-error-policy';

export const STALLED_METRIC = 'zoom_consumer_stalled_seconds';

export interface EventBusTransportDeps {
  bus: EventBus;
  logger: Logger;
  health: HealthService;
  registry: Registry;
  /** Looks up a provider (for `BusHandlerOptions.overrides`). */
  resolve?: (token: string | symbol) => unknown;
}

/**
 * A Nest microservice transport over the `EventBus` port (Kafka or the embedded log alike). Not Nest's
 * `Transport.KAFKA`: that one cannot commit a handler's outputs and its source offsets in one transaction.
 * Owns, once for every `@BusHandler`: start/stop with the app, topic creation, readiness and liveness, the
 * consumer-lag gauge, one CONSUMER span per record joined to its `traceparent`, and start-up error reporting.
 */
export class EventBusTransport extends Server implements CustomTransportStrategy {
  override readonly transportId = BUS_TRANSPORT;
  // Handler errors reach us (and so the bus, which redelivers), instead of being logged and swallowed.
  override readonly propagatesEventHandlerErrors = true;
  private readonly consumers: Array<{ group: string; consumer: BackgroundConsumer; startedAt: number }> = [];
  /** When each group/topic/partition last committed a batch, for the stalled-partition gauge. */
  private readonly progress = new Map<string, number>();
  /** The failing batch at the head of each group/topic/partition; absent while the partition advances. */
  private readonly heads = new Map<string, HeadState>();

  constructor(private readonly deps: EventBusTransportDeps) {
    super();
  }

  listen(callback: () => void): void {
    const { bus, health, logger, registry } = this.deps;
    if (this.messageHandlers.size > 0) {
      health.addReadiness({ name: 'event-bus', check: () => bus.isReady() });
      this.registerStalledGauge(registry);
    }
    for (const handler of this.messageHandlers.values()) {
      const declared = handler.extras as unknown as BusHandlerOptions & { topic: string };
      const topic = declared.topic;
      const options: BusHandlerOptions = declared.overrides
        ? { ...declared, ...(this.deps.resolve?.(declared.overrides) as Partial<BusHandlerOptions>) }
        : declared;
      const policy: RecordErrorPolicy = { ...DEFAULT_RECORD_ERROR_POLICY, ...options.errorPolicy };
      const ensureTopics = options.ensureTopics.some((t) => t.topic === policy.deadLetterTopic)
        ? options.ensureTopics
        : [...options.ensureTopics, { topic: policy.deadLetterTopic, partitions: 1 }];
      const consumer: BackgroundConsumer = new BackgroundConsumer(
        bus,
        {
          groupId: options.groupId,
          topics: [topic],
          fromBeginning: options.fromBeginning ?? true,
          maxBatchSize: options.maxBatchSize,
          maxBatchBytes: options.maxBatchBytes,
          concurrentPartitions: options.concurrentPartitions,
          eachBatch: (batch) => this.handle(handler, options, policy, batch),
        },
        ensureTopics,
        (err, attempt) =>
          logger.warn({ attempt, cause: err.message }, `${options.name} consumer not started yet; retrying`),
        () => logger.info({ group: options.groupId, ...options.startedFields }, `${options.name} consuming ${topic}`),
      );
      health.addLiveness({ name: `${options.name}-consumer`, isAlive: () => consumer.isHealthy() });
      health.addReadiness({ name: `${options.name}-consumer`, check: async () => consumer.started });
      consumerLagGauge(registry, { group: options.groupId, collect: () => consumer.lag() });
      this.consumers.push({ group: options.groupId, consumer, startedAt: Date.now() });
      // Never blocks start-up: joining a group can take a session timeout, and /readyz must answer meanwhile.
      consumer.start();
    }
    callback();
  }

  /** Stops taking batches; in-flight ones finish or are abandoned uncommitted (redelivered elsewhere). */
  async close(): Promise<void> {
    await Promise.all(this.consumers.map((c) => c.consumer.stop()));
  }

  on(): never {
    throw new Error('EventBusTransport has no events to subscribe to');
  }

  unwrap<T>(): T {
    return this.deps.bus as T;
  }

  /**
   * One attempt at a batch. A failure is rethrown (the bus backs off and redelivers the same records) until the
   * record error policy says otherwise; then the batch runs record by record, the records that still fail are
   * dead-lettered with their reason, and the rest are committed: one bad record never stops a partition.
   */
  private async handle(
    handler: MessageHandler,
    options: BusHandlerOptions,
    policy: RecordErrorPolicy,
    batch: Batch,
  ): Promise<BatchResult> {
    const key = `${options.groupId}/${batch.topic}/${batch.partition}`;
    const first = batch.messages[0].offset;
    const head = this.heads.get(key);
    const state: HeadState =
      head && head.firstOffset === first ? head : { firstOffset: first, attempts: 0, since: Date.now() };
    try {
      const result = await this.runTraced(handler, options, batch);
      this.heads.delete(key);
      this.progress.set(key, Date.now());
      return result;
    } catch (err) {
      state.attempts++;
      this.heads.set(key, state);
      if (!shouldIsolate(state, err, policy, Date.now())) throw err;
      this.deps.logger.warn(
        {
          group: options.groupId,
          topic: batch.topic,
          partition: batch.partition,
          firstOffset: first,
          attempts: state.attempts,
          transient: isTransientError(err),
        },
        `${options.name}: batch keeps failing; retrying it record by record`,
      );
      const deadOnTransient = Date.now() - state.since >= policy.transientBudgetMs;
      const result = await isolateRecords(
        batch,
        (single) => this.runTraced(handler, options, single),
        (msg, recordErr) => {
          this.deps.logger.error(
            {
              group: options.groupId,
              topic: msg.topic,
              partition: msg.partition,
              offset: msg.offset,
              code: (recordErr as { code?: string }).code,
            },
            `${options.name}: record dead-lettered to ${policy.deadLetterTopic}`,
          );
          return deadLetter(msg, recordErr, state.attempts, policy, options.groupId);
        },
        deadOnTransient,
      );
      this.heads.delete(key);
      this.progress.set(key, Date.now());
      return result;
    }
  }

  private async runTraced(handler: MessageHandler, options: BusHandlerOptions, batch: Batch): Promise<BatchResult> {
    const traced = openRecordSpans(batch, options.groupId);
    try {
      const result = await lastValueFrom(this.transformToObservable(await handler(traced.batch)));
      traced.end();
      return result;
    } catch (err) {
      traced.end(err);
      throw err;
    }
  }

  /**
   * `zoom_consumer_stalled_seconds{group,topic,partition}`: for a partition with lag, the seconds since it last
   * committed a batch (or since the consumer started). A head record that keeps failing, or a handler that
   * hangs, makes it grow while /healthz stays green; partitions without lag are not reported.
   */
  private registerStalledGauge(registry: Registry): void {
    if (registry.getSingleMetric(STALLED_METRIC)) return;
    const { consumers, progress } = this;
    new Gauge({
      name: STALLED_METRIC,
      help:
        'Seconds since a partition with lag last committed a batch ' +
        '(absent without lag): alert when it keeps growing',
      labelNames: ['group', 'topic', 'partition'],
      registers: [registry],
      async collect() {
        this.reset();
        const now = Date.now();
        await Promise.all(
          consumers.map(async ({ group, consumer, startedAt }) => {
            try {
              for (const l of await consumer.lag()) {
                if (l.lag <= 0) continue;
                const since = progress.get(`${group}/${l.topic}/${l.partition}`) ?? startedAt;
                this.set({ group, topic: l.topic, partition: String(l.partition) }, Math.max(0, (now - since) / 1000));
              }
            } catch {
              /* best effort, like the lag gauge */
            }
          }),
        );
      },
    });
  }
}

/**
 * One CONSUMER span per record (`process <topic>`), a child of the span named by the record's `traceparent`, and
 * the batch a handler receives. `end(err)` marks every span failed with the error's code and ends them.
 */
export function openRecordSpans(batch: Batch, groupId: string): { batch: HandlerBatch; end(err?: unknown): void } {
  const spans = new Map<ConsumedMessage, { span: Span; ctx: Context }>();
  for (const msg of batch.messages) {
    const span = tracer().startSpan(`process ${msg.topic}`, { kind: SpanKind.CONSUMER }, extractContext(msg.headers));
    // Built only for a span that records (the samplers in use do not read attributes): with tracing off, per record.
    if (span.isRecording()) {
      span.setAttributes(
        kafkaAttributes(msg.topic, 'process', {
          [ATTR.messagingConsumerGroup]: groupId,
          [ATTR.messagingPartition]: String(msg.partition),
          [ATTR.messagingOffset]: Number(msg.offset),
        }),
      );
    }
    spans.set(msg, { span, ctx: trace.setSpan(context.active(), span) });
  }
  const entry = (msg: ConsumedMessage) => {
    const e = spans.get(msg);
    if (!e) throw new Error(`record ${msg.topic}/${msg.partition}/${msg.offset} is not in this batch`);
    return e;
  };
  return {
    batch: {
      topic: batch.topic,
      partition: batch.partition,
      messages: batch.messages,
      heartbeat: () => batch.heartbeat(),
      isActive: () => batch.isActive(),
      ...(batch.assignment !== undefined ? { assignment: batch.assignment } : {}),
      spanOf: (msg) => entry(msg).span,
      contextOf: (msg) => entry(msg).ctx,
      withRecord: (msg, fn) => context.with(entry(msg).ctx, fn),
    },
    end(err?: unknown) {
      for (const { span } of spans.values()) {
        if (err !== undefined) recordFailure(span, err);
        span.end();
      }
    },
  };
}

/** Nest's default RPC filter replaces an unknown error by `{status, message}`; the bus needs the error itself. */
@Catch()
export class RethrowRpcErrors implements RpcExceptionFilter {
  catch(exception: unknown) {
    return throwError(() => exception);
  }
}

/**
 * Connects the declared `@BusHandler`s of an app's modules to the event bus and starts them (the apps' main.ts
 * call this before listening). The app's HTTP filters are not inherited: they answer HTTP, not batches.
 */
export async function startBusConsumers(app: INestApplication): Promise<EventBusTransport> {
  const transport = new EventBusTransport({
    bus: app.get<EventBus>(EVENT_BUS),
    logger: app.get<Logger>(LOGGER),
    health: app.get(HealthService),
    registry: app.get<Registry>(METRICS_REGISTRY),
    resolve: (token) => app.get(token),
  });
  // The app and the transport share one container: the app runs the lifecycle hooks once, before any consumer
  // starts (a deferred microservice would run onModuleInit/onApplicationBootstrap a second time otherwise).
  await app.init();
  // Deferred: handlers take their exception filters when they are registered, so the filter must come first.
  const microservice = app.connectMicroservice(
    { strategy: transport },
    { inheritAppConfig: false, deferInitialization: true },
  ) as NestMicroservice;
  microservice.setIsInitHookCalled(true);
  microservice.useGlobalFilters(new RethrowRpcErrors());
  await app.startAllMicroservices();
  return transport;
}
