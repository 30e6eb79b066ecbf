import { Catch, type INestApplication, type RpcExceptionFilter } from '@nestjs/common';
import { type CustomTransportStrategy, type MessageHandler, Server } from '@nestjs/microservices';
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
import type { Registry } from 'prom-client';
import { lastValueFrom, throwError } from 'rxjs';
import { BackgroundConsumer } from '../background-consumer';
import { type Batch, type BatchResult, type ConsumedMessage, EVENT_BUS, type EventBus } from '../event-bus.port';
import { BUS_TRANSPORT, type BusHandlerOptions, type HandlerBatch } from './bus-handler.decorator';

export interface EventBusTransportDeps {
  bus: EventBus;
  logger: Logger;
  health: HealthService;
  registry: Registry;
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
  private readonly consumers: BackgroundConsumer[] = [];

  constructor(private readonly deps: EventBusTransportDeps) {
    super();
  }

  listen(callback: () => void): void {
    const { bus, health, logger, registry } = this.deps;
    if (this.messageHandlers.size > 0) health.addReadiness({ name: 'event-bus', check: () => bus.isReady() });
    for (const [topic, handler] of this.messageHandlers) {
      const options = handler.extras as unknown as BusHandlerOptions;
      const consumer: BackgroundConsumer = new BackgroundConsumer(
        bus,
        {
          groupId: options.groupId,
          topics: [topic],
          fromBeginning: options.fromBeginning ?? true,
          maxBatchSize: options.maxBatchSize,
          maxBatchBytes: options.maxBatchBytes,
          concurrentPartitions: options.concurrentPartitions,
          eachBatch: (batch) => this.handle(handler, options, batch),
        },
        options.ensureTopics,
        (err, attempt) => logger.warn({ attempt, cause: err.message }, `${options.name} consumer not started yet; retrying`),
        () => logger.info({ group: options.groupId, ...options.startedFields }, `${options.name} consuming ${topic}`),
      );
      health.addLiveness({ name: `${options.name}-consumer`, isAlive: () => consumer.isHealthy() });
      health.addReadiness({ name: `${options.name}-consumer`, check: async () => consumer.started });
      consumerLagGauge(registry, { group: options.groupId, collect: () => consumer.lag() });
      this.consumers.push(consumer);
      // Never blocks start-up: joining a group can take a session timeout, and /readyz must answer meanwhile.
      consumer.start();
    }
    callback();
  }

  /** Stops taking batches; in-flight ones finish or are abandoned uncommitted (redelivered elsewhere). */
  async close(): Promise<void> {
    await Promise.all(this.consumers.map((c) => c.stop()));
  }

  on(): never {
    throw new Error('EventBusTransport has no events to subscribe to');
  }

  unwrap<T>(): T {
    return this.deps.bus as T;
  }

  private async handle(handler: MessageHandler, options: BusHandlerOptions, batch: Batch): Promise<BatchResult> {
    const spans = new Map<ConsumedMessage, { span: Span; ctx: Context }>();
    for (const msg of batch.messages) {
      const span = tracer().startSpan(
        `process ${msg.topic}`,
        {
          kind: SpanKind.CONSUMER,
          attributes: kafkaAttributes(msg.topic, 'process', {
            [ATTR.messagingConsumerGroup]: options.groupId,
            [ATTR.messagingPartition]: String(msg.partition),
            [ATTR.messagingOffset]: Number(msg.offset),
          }),
        },
        extractContext(msg.headers),
      );
      spans.set(msg, { span, ctx: trace.setSpan(context.active(), span) });
    }
    const entry = (msg: ConsumedMessage) => {
      const e = spans.get(msg);
      if (!e) throw new Error(`record ${msg.topic}/${msg.partition}/${msg.offset} is not in this batch`);
      return e;
    };
    const handlerBatch: HandlerBatch = {
      topic: batch.topic,
      partition: batch.partition,
      messages: batch.messages,
      heartbeat: () => batch.heartbeat(),
      isActive: () => batch.isActive(),
      spanOf: (msg: ConsumedMessage) => entry(msg).span,
      contextOf: (msg: ConsumedMessage) => entry(msg).ctx,
      withRecord: <T>(msg: ConsumedMessage, fn: () => T): T => context.with(entry(msg).ctx, fn),
    };
    try {
      return await lastValueFrom(this.transformToObservable(await handler(handlerBatch)));
    } catch (err) {
      for (const { span } of spans.values()) recordFailure(span, err);
      throw err;
    } finally {
      for (const { span } of spans.values()) span.end();
    }
  }
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
  });
  // Deferred: handlers take their exception filters when they are registered, so the filter must come first.
  const microservice = app.connectMicroservice({ strategy: transport }, { inheritAppConfig: false, deferInitialization: true });
  microservice.useGlobalFilters(new RethrowRpcErrors());
  await app.startAllMicroservices();
  return transport;
}
