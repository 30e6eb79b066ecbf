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
  return reply
    .code(err.status)
    .type('application/json; charset=utf-8')
    .send({ error: err.code, message: err.message } satisfies ErrorBody);
}

export const CODE_BY_STATUS: Record<number, string> = {
  400: 'bad_request',
  401: 'unauthorized',
  404: 'not_found',
  405: 'method_not_allowed',
  413: 'body_too_large',
  415: 'unsupported_media_type',
  500: 'internal_error',
  503: 'unavailable',
};

/**
 * Method and path pattern of every route (`/webhooks/zoom/:app`), to tell "no such route" (404) from "this path
 * exists, with other methods" (405 with `Allow`).
 */
export class RouteTable {
  private readonly routes: Array<{ methods: string[]; pattern: RegExp }> = [];

  add(method: string | string[], url: string): void {
    const pattern = new RegExp(
      '^' +
        url
          .split('/')
          .map((part) => (part.startsWith(':') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
          .join('/') +
        '/?$',
    );
    this.routes.push({ methods: (Array.isArray(method) ? method : [method]).map((m) => m.toUpperCase()), pattern });
  }

  /** The methods some route serves at this path (query string ignored), sorted; empty for an unknown path. */
  allowedMethods(url: string): string[] {
    const path = url.split('?')[0];
    return [...new Set(this.routes.filter((r) => r.pattern.test(path)).flatMap((r) => r.methods))].sort();
  }
}

/**
 * Fastify-level errors (before a Nest route runs): body too large, malformed content type, bad URL. Nest hands them
 * to the filter as an HttpException with the status only, so the status alone must give the right code.
 */
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
  if (error.code === 'FST_ERR_BAD_URL') return new HttpError(400, 'bad_url', 'the URL is not validly percent-encoded');
  if (error.code === 'FST_ERR_MAX_PARAM_LENGTH')
    return new HttpError(414, 'url_too_long', 'a path segment is too long');
  const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
  return new HttpError(
    status,
    CODE_BY_STATUS[status] ?? 'http_error',
    status === 500 ? 'internal error; see the service log' : 'the request was rejected',
  );
}
