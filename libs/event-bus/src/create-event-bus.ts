import { type EventBus } from './event-bus.port';
import { type EventBusLogger } from './event-bus.logger';
import { FileLogEventBus } from './file-log/file-log-event-bus';
import { KafkaEventBus, type KafkaSaslConfig } from './kafka/kafka-event-bus';
import { MemoryEventBus } from './memory/memory-event-bus';
import { type PublishClientName } from './kafka/publish-producer';

/** Which adapter to build; `config.bus` of the app config has this shape. */
export type EventBusConfig =
  | {
      kind: 'kafka';
      brokers: string[];
      clientId: string;
      publishTimeoutMs?: number;
      ssl?: boolean;
      sasl?: KafkaSaslConfig;
      publishClient?: PublishClientName;
      client?: PublishClientName;
      groupPrefix?: string;
    }
  | { kind: 'file'; dir: string }
  | { kind: 'memory' };

export interface EventBusFactoryOptions {
  /** Where adapter logs go (a pino logger fits). Default: WARN and above as JSON lines on stderr. */
  logger?: EventBusLogger;
}

/** Builds the adapter for `config` (the file log is opened, i.e. replayed, before this resolves). */
export async function createEventBus(config: EventBusConfig, options: EventBusFactoryOptions = {}): Promise<EventBus> {
  switch (config.kind) {
    case 'kafka':
      return new KafkaEventBus({
        brokers: config.brokers,
        clientId: config.clientId,
        publishTimeoutMs: config.publishTimeoutMs,
        ssl: config.ssl,
        sasl: config.sasl,
        publishClient: config.publishClient,
        client: config.client,
        groupPrefix: config.groupPrefix,
        logger: options.logger,
      });
    case 'file':
      return FileLogEventBus.open({ dir: config.dir, logger: options.logger });
    case 'memory':
      return new MemoryEventBus({ logger: options.logger });
    default:
      return assertUnreachable(config);
  }
}

function assertUnreachable(value: never): never {
  throw new Error(`unknown event bus kind: ${JSON.stringify(value)}`);
}
