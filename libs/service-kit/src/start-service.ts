import type { DynamicModule } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { type AppConfig, type LoadConfigOptions, loadConfigOrExit } from '@zoom-pipeline/config';
import { type Logger, createLogger } from '@zoom-pipeline/telemetry';
import type { Registry } from 'prom-client';
import { createMetricsRegistry } from './metrics';
import { runApp } from './run-app';

export interface StartServiceOptions extends LoadConfigOptions {
  /** Runs after the app is built and before it listens: the apps start their bus consumers here. */
  beforeListen?: (app: NestFastifyApplication) => Promise<unknown>;
}

export interface ServiceContext {
  config: AppConfig;
  logger: Logger;
  registry: Registry;
}

/** What every main.ts does: parse config (exit 2 on problems), logger, metrics, Nest on Fastify, signals. */
export async function startService(
  name: string,
  buildModule: (ctx: ServiceContext) => DynamicModule,
  options: StartServiceOptions = {},
): Promise<NestFastifyApplication> {
  const config = loadConfigOrExit(process.env, options);
  const logger = createLogger({ name, level: config.logLevel, logClientIps: config.logClientIps });
  const registry = createMetricsRegistry(name);
  try {
    return await runApp(buildModule({ config, logger, registry }), {
      name,
      port: config.port,
      host: config.host,
      maxBodyBytes: config.webhook.maxBodyBytes,
      shutdownDelayMs: config.shutdownDelayMs,
      logger,
      trustProxy: config.trustProxy,
      beforeListen: options.beforeListen,
    });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const message = e.code === 'EADDRINUSE' ? `port ${config.port} is already in use (set PORT)` : e.message;
    logger.fatal({ code: e.code }, `cannot start: ${message}`);
    logger.flush?.();
    process.stderr.write(`zoom-pipeline ${name}: cannot start: ${message}\n`);
    process.exit(1);
  }
}
