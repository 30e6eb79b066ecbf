/**
 * Routes kafkajs's own logging to the injected EventBusLogger. Only an allow-list of metadata fields is
 * forwarded (never the whole entry): kafkajs entries can carry request payloads in debug mode, and message
 * values hold Zoom payloads with tokens.
 */
import { logLevel, type logCreator } from 'kafkajs';
import { type EventBusLogger, type LogFields, type LogLevelName } from '../event-bus.logger';

/**
 * kafkajs warns on every idempotent producer with bounded retries. Bounded retries are deliberate here (a
 * publish must fail within the ack deadline), and safe because a producer whose send failed or timed out is
 * discarded: a new producer id is used for the next batch, so sequence numbers are never reused.
 */
const EXPECTED_WARNINGS = new Set(['Limiting retries for the idempotent producer may invalidate EoS guarantees']);

/**
 * Right after a transaction commits, the broker answers the next transaction's AddPartitionsToTxn with
 * CONCURRENT_TRANSACTIONS until its markers are written; kafkajs logs that at ERROR and retries (as the Java
 * client does). Back-to-back batch commits hit it routinely, so it is debug noise, not an error.
 */
const EXPECTED_RETRIED_ERRORS = /concurrent operation on the same transaction/;

const SAFE_FIELDS = [
  'broker',
  'groupId',
  'memberId',
  'topic',
  'partition',
  'retryCount',
  'retryTime',
  'nodeId',
  'transactionalId',
] as const;

export function toKafkaLogLevel(level: LogLevelName): logLevel {
  switch (level) {
    case 'debug':
      return logLevel.DEBUG;
    case 'info':
      return logLevel.INFO;
    case 'warn':
      return logLevel.WARN;
    case 'error':
      return logLevel.ERROR;
  }
}

export function kafkaLogCreator(logger: EventBusLogger): logCreator {
  return () =>
    ({ namespace, level, log }) => {
      const fields: LogFields = { kafkajs: namespace };
      const entry = log as Record<string, unknown>;
      for (const name of SAFE_FIELDS) {
        const value = entry[name];
        if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') fields[name] = value;
      }
      const error = entry.error;
      if (typeof error === 'string') fields.error = error;
      else if (error instanceof Error) fields.error = error.message;
      const message = String(log.message);
      if (EXPECTED_WARNINGS.has(message) || EXPECTED_RETRIED_ERRORS.test(`${message} ${fields.error ?? ''}`)) {
        logger.debug(fields, message);
        return;
      }
      switch (level) {
        case logLevel.ERROR:
          logger.error(fields, message);
          break;
        case logLevel.WARN:
          logger.warn(fields, message);
          break;
        case logLevel.INFO:
          logger.info(fields, message);
          break;
        case logLevel.DEBUG:
        case logLevel.NOTHING:
          logger.debug(fields, message);
          break;
      }
    };
}
