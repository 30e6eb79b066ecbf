/**
 * The small logger the adapters write to. Shaped so a pino logger can be passed as is
 * (`logger.warn({ topic }, 'message')`). Adapters only ever log metadata (topic, partition, offsets,
 * group, error messages), never message values or headers: values carry Zoom payloads with download tokens.
 */
export type LogFields = Record<string, string | number | boolean | undefined>;

export interface EventBusLogger {
  debug(fields: LogFields, message: string): void;
  info(fields: LogFields, message: string): void;
  warn(fields: LogFields, message: string): void;
  error(fields: LogFields, message: string): void;
}

export type LogLevelName = 'debug' | 'info' | 'warn' | 'error';

const RANK: Record<LogLevelName, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** JSON lines on stderr at `minLevel` and above; the default is WARN so a library stays quiet. */
export function consoleEventBusLogger(minLevel: LogLevelName = 'warn'): EventBusLogger {
  const write =
    (level: LogLevelName) =>
    (fields: LogFields, message: string): void => {
      if (RANK[level] < RANK[minLevel]) return;
      process.stderr.write(`${JSON.stringify({ level, component: 'event-bus', msg: message, ...fields })}\n`);
    };
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
}

export const silentEventBusLogger: EventBusLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
