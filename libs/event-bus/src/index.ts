export * from './event-bus.port';
export {
  consoleEventBusLogger,
  type EventBusLogger,
  type LogFields,
  type LogLevelName,
  silentEventBusLogger,
} from './event-bus.logger';
export { DEFAULT_RETRY_BACKOFF, type RetryBackoff } from './retry-backoff';
export { createEventBus, type EventBusConfig, type EventBusFactoryOptions } from './create-event-bus';
export { EventBusModule, EventBusShutdown } from './event-bus.module';
export {
  DEFAULT_PUBLISH_TIMEOUT_MS,
  KafkaEventBus,
  type KafkaClientName,
  type KafkaEventBusOptions,
  PUBLISH_ACKS,
  publishProducerConfig,
  type KafkaSaslConfig,
} from './kafka/kafka-event-bus';
export { type KafkaConsumerSettings } from './kafka/kafka-group';
export { FileLogEventBus, type FileLogEventBusOptions } from './file-log/file-log-event-bus';
export { JournalCorruptError, type JournalStats } from '@zoom-pipeline/file-journal';
export { MemoryEventBus, type MemoryEventBusOptions } from './memory/memory-event-bus';
export { type LogEventBusOptions } from './log/log-event-bus';
export { partitionForKey } from './log/murmur2-partition';
export { BackgroundConsumer } from './background-consumer';
export { BUS_TRANSPORT, BusHandler, type BusHandlerOptions, type HandlerBatch } from './nest/bus-handler.decorator';
export {
  EventBusTransport,
  type EventBusTransportDeps,
  RethrowRpcErrors,
  startBusConsumers,
} from './nest/event-bus.transport';
