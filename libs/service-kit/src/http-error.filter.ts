import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException } from '@nestjs/common';
import type { Logger } from '@zoom-pipeline/telemetry';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { answerUnreadBody } from './connection-errors';
import { HttpError, type RouteTable, mapFastifyError, sendError } from './http-error';

export interface HttpErrorFilterOptions {
  /** Routes as registered, to answer 405 (with `Allow`) for a known path with another method. */
  routes?: RouteTable;
  maxBodyBytes?: number;
  logger?: Logger;
}

/**
 * Maps anything thrown in a route, and Fastify's own errors (Nest routes those here too), to the SPEC §3 body;
 * never echoes an internal error's text.
 */
@Catch()
export class HttpErrorFilter implements ExceptionFilter {
  constructor(private readonly options: HttpErrorFilterOptions = {}) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const reply = http.getResponse<FastifyReply>();
    const request = http.getRequest<FastifyRequest | undefined>();
    const error = this.toHttpError(exception, request);
    if (error.status < 500 && request?.raw && !request.raw.complete && typeof reply.hijack === 'function') {
      // The body is not (fully) read, e.g. over MAX_BODY_BYTES or sent to no route: answer, then lingering close
      // (connection-errors.ts), so the client sees this status instead of a reset while it is still sending.
      reply.hijack();
      answerUnreadBody(request.raw, error);
      return;
    }
    sendError(reply, error);
  }

  private toHttpError(exception: unknown, request: FastifyRequest | undefined): HttpError {
    if (exception instanceof HttpError) return exception;
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      if (status === 404) {
        const allowed = this.options.routes?.allowedMethods(request?.url ?? '') ?? [];
        return allowed.length > 0
          ? new HttpError(405, 'method_not_allowed', `this path accepts ${allowed.join(', ')}`, {
              allow: allowed.join(', '),
            })
          : new HttpError(404, 'not_found', 'no such route');
      }
      return mapFastifyError({ statusCode: status }, this.options.maxBodyBytes ?? 0);
    }
    this.options.logger?.error(
      { err: { message: (exception as Error)?.message, code: (exception as { code?: string })?.code } },
      'request failed',
    );
    return new HttpError(500, 'internal_error', 'internal error; see the service log');
  }
}
