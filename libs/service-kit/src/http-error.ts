import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException } from '@nestjs/common';
import type { FastifyReply } from 'fastify';

/** SPEC §3: every HTTP error is `{"error": code, "message": why}` with a status. */
export interface ErrorBody {
  error: string;
  message: string;
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export function sendError(reply: FastifyReply, err: HttpError): FastifyReply {
  for (const [k, v] of Object.entries(err.headers)) void reply.header(k, v);
  return reply.code(err.status).type('application/json; charset=utf-8').send({ error: err.code, message: err.message } satisfies ErrorBody);
}

const CODE_BY_STATUS: Record<number, string> = {
  400: 'bad_request',
  401: 'unauthorized',
  404: 'not_found',
  405: 'method_not_allowed',
  413: 'body_too_large',
  415: 'unsupported_media_type',
  500: 'internal_error',
  503: 'unavailable',
};

/** Maps anything thrown in a route to the SPEC §3 body; never echoes an internal error's text. */
@Catch()
export class HttpErrorFilter implements ExceptionFilter {
  catch(exception: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    if (exception instanceof HttpError) {
      sendError(reply, exception);
      return;
    }
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      sendError(reply, new HttpError(status, CODE_BY_STATUS[status] ?? 'http_error', status === 404 ? 'no such route' : exception.message));
      return;
    }
    sendError(reply, new HttpError(500, 'internal_error', 'internal error; see the service log'));
  }
}

/** Fastify-level errors (before a Nest route runs): body too large, malformed content type. */
export function mapFastifyError(error: { statusCode?: number; code?: string }, maxBodyBytes: number): HttpError {
  if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || error.statusCode === 413) {
    return new HttpError(413, 'body_too_large', `the body exceeds MAX_BODY_BYTES (${maxBodyBytes} bytes)`);
  }
  if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || error.statusCode === 415) {
    return new HttpError(415, 'unsupported_media_type', 'the content type must be application/json');
  }
  if (error.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || error.code === 'FST_ERR_CTP_INVALID_CONTENT_LENGTH') {
    return new HttpError(400, 'bad_request', 'the request body is malformed');
  }
  const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
  return new HttpError(status, CODE_BY_STATUS[status] ?? 'http_error', status === 500 ? 'internal error; see the service log' : 'the request was rejected');
}
