import { type LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { type Logger, shutdownTelemetry } from '@zoom-pipeline/telemetry';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { HealthService } from './health';
import { handleClientError } from './connection-errors';
import { HttpError, RouteTable, mapFastifyError, sendError } from './http-error';
import { HttpErrorFilter } from './http-error.filter';

export interface RunAppOptions {
  name: string;
  port: number;
  host: string;
  maxBodyBytes: number;
  /** /readyz answers 503 this long before the server stops accepting, so load balancers drain first. */
  shutdownDelayMs: number;
  logger: Logger;
  trustProxy?: boolean;
  /** Handle SIGTERM/SIGINT (off in tests that close the app themselves). */
  handleSignals?: boolean;
  /** Runs after the app is built and before it listens (e.g. connecting the bus transport). */
  beforeListen?: (app: NestFastifyApplication) => Promise<unknown>;
}

class PinoNestLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}
  log(message: unknown, context?: string): void {
    this.logger.debug({ context }, String(message));
  }
  error(message: unknown, _trace?: string, context?: string): void {
    this.logger.error({ context }, String(message));
  }
  warn(message: unknown, context?: string): void {
    this.logger.warn({ context }, String(message));
  }
}

/**
 * Builds a Nest app on Fastify with the body kept as raw bytes: Zoom signs the exact bytes it sent, and
 * any framework that parses and re-serialises JSON breaks verification (docs/USER-REPORTS.md #3, #4). Nest's own
 * body parser is off; one content-type parser hands every body over as a Buffer, and the controller
 * checks the content type itself so a 415 has our JSON error shape.
 */
export async function createApp(module: unknown, options: RunAppOptions): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({
    bodyLimit: options.maxBodyBytes,
    trustProxy: options.trustProxy ?? false,
    logger: false,
    // While closing, new requests get 503 instead of hanging (Zoom retries them): our hook below, in the SPEC shape,
    // rather than Fastify's built-in answer.
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    keepAliveTimeout: 65_000,
    // Parser errors before there is a request (431 headers too large, bad Content-Length): our JSON shape.
    clientErrorHandler: (err, socket) => handleClientError(err, socket),
    // Router errors before any route runs (a URL that does not decode): our JSON shape too.
    frameworkErrors: (error: Error, _req: FastifyRequest, reply: FastifyReply) =>
      void sendError(reply, mapFastifyError(error as { statusCode?: number; code?: string }, options.maxBodyBytes)),
  });
  const app = await NestFactory.create<NestFastifyApplication>(module as never, adapter, {
    bodyParser: false,
    logger: new PinoNestLogger(options.logger),
    abortOnError: false,
  });
  const fastify = app.getHttpAdapter().getInstance();
  // Routes as Nest registers them (on init, after this), so an unknown method on a known path can answer 405.
  const routes = new RouteTable();
  fastify.addHook('onRoute', (route) => routes.add(route.method, route.url ?? route.path));
  let closing = false;
  fastify.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  fastify.addHook('onRequest', (_req, reply, done) => {
    if (!closing) {
      done();
      return;
    }
    void sendError(
      reply.header('connection', 'close'),
      new HttpError(503, 'shutting_down', 'the service is shutting down; retry later', { 'retry-after': '5' }),
    );
  });
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  // Nest installs Fastify's error handler on init and routes Fastify's own errors (body too large, bad framing)
  // through the exception filters as well: the filter is the one place that answers errors.
  app.useGlobalFilters(new HttpErrorFilter({ routes, maxBodyBytes: options.maxBodyBytes, logger: options.logger }));
  return app;
}

/** Creates, listens, and wires graceful shutdown: readyz 503 → delay → drain in-flight → close hooks → exit. */
export async function runApp(module: unknown, options: RunAppOptions): Promise<NestFastifyApplication> {
  const app = await createApp(module, options);
  await options.beforeListen?.(app);
  await app.listen(options.port, options.host);
  options.logger.info({ port: options.port, node: process.version }, `${options.name} listening`);
  if (options.handleSignals !== false) installShutdown(app, options);
  return app;
}

export function installShutdown(
  app: NestFastifyApplication,
  options: Pick<RunAppOptions, 'shutdownDelayMs' | 'logger' | 'name'>,
): void {
  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    options.logger.info({ signal }, 'shutting down: readiness off, draining');
    app.get(HealthService).startDraining();
    await new Promise((r) => setTimeout(r, options.shutdownDelayMs));
    try {
      // Fastify stops accepting, waits for in-flight requests; Nest then runs shutdown hooks
      // (producer flush, consumers commit and leave their groups).
      await app.close();
      // After the app closed: spans of the last drained requests and batches are ended by now.
      await shutdownTelemetry();
      options.logger.info('stopped');
      options.logger.flush?.();
      setTimeout(() => process.exit(0), 50).unref();
    } catch (err) {
      options.logger.error({ err: { message: (err as Error).message } }, 'shutdown failed');
      await shutdownTelemetry();
      options.logger.flush?.();
      setTimeout(() => process.exit(1), 50).unref();
    }
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}
