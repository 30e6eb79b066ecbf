import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { type ErrorBody, HttpError } from './http-error';

/**
 * How long and how much a connection is read (and discarded) after we answered an error and closed our side,
 * before it is destroyed. Closing a socket while the client is still sending makes the kernel answer its data with
 * a reset, and a client that gets the reset before it reads loses our answer (a 5 MiB POST saw ECONNRESET instead
 * of its 413). Reading on until the client stops sending ("lingering close", as Apache and nginx do) lets every
 * client see the status; the bounds keep a client that never stops from holding the socket.
 */
export interface LingerLimits {
  maxMs: number;
  maxBytes: number;
}

export const DEFAULT_LINGER: LingerLimits = { maxMs: 5_000, maxBytes: 64 * 1024 * 1024 };

/** Sockets we already answered on: a second parser error on the same connection must not write again. */
const answered = new WeakSet<Duplex>();

function rawResponse(err: HttpError): Buffer {
  const body = Buffer.from(JSON.stringify({ error: err.code, message: err.message } satisfies ErrorBody), 'utf8');
  const headers: Record<string, string> = {
    ...err.headers,
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(body.length),
    date: new Date().toUTCString(),
    connection: 'close',
  };
  const head = `HTTP/1.1 ${err.status} ${STATUS_CODES[err.status] ?? ''}\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}

/**
 * Writes `err` as the whole response, half-closes (our FIN goes after the response), then keeps reading what the
 * client still sends through `incoming` (the request body, or the raw socket when there is no request) and
 * destroys the socket once the client is done, or at the limits.
 */
function answerAndLinger(socket: Duplex, err: HttpError, incoming: NodeJS.ReadableStream, limits: LingerLimits): void {
  answered.add(socket);
  let flushed = false;
  let clientDone = false;
  let received = 0;
  const finish = () => {
    clearTimeout(timer);
    if (!socket.destroyed) socket.destroy();
  };
  const timer = setTimeout(finish, limits.maxMs);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  socket.once('error', finish);
  const maybeFinish = () => {
    if (flushed && clientDone) finish();
  };
  incoming.on('data', (chunk: Buffer | string) => {
    received += chunk.length;
    if (received > limits.maxBytes) finish();
  });
  incoming.once('end', () => {
    clientDone = true;
    maybeFinish();
  });
  incoming.resume();
  // end(): the response, then FIN once it is flushed; the socket stays readable (http sockets allow half-open).
  socket.end(rawResponse(err), () => {
    flushed = true;
    maybeFinish();
  });
}

/**
 * Answers a request whose body will not be read (over MAX_BODY_BYTES) with `err`, then closes with a lingering
 * close, so the client sees the status rather than a reset. The caller must have taken the response over
 * (Fastify's `reply.hijack()`): nothing else may write on the socket.
 */
export function answerUnreadBody(req: IncomingMessage, err: HttpError, limits: LingerLimits = DEFAULT_LINGER): void {
  answerAndLinger(req.socket, err, req, limits);
}

/**
 * Errors raised by Node's HTTP parser before there is a request (`clientError`): headers over the limit (431), bad
 * framing such as an invalid Content-Length (400), a request not received in time (408). Fastify's default answers
 * in its own shape; these keep SPEC §3's `{"error", "message"}` and never echo what was sent.
 */
export function clientErrorToHttpError(err: { code?: string }): HttpError {
  const code = err.code ?? '';
  if (code === 'HPE_HEADER_OVERFLOW')
    return new HttpError(431, 'headers_too_large', 'the request headers exceed the server limit');
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT')
    return new HttpError(408, 'request_timeout', 'the request was not received in time');
  if (BAD_FRAMING.has(code))
    return new HttpError(
      400,
      'bad_framing',
      'the request body framing (Content-Length / Transfer-Encoding) is invalid',
    );
  return new HttpError(400, 'bad_request', 'the request is not valid HTTP/1.1');
}

const BAD_FRAMING: ReadonlySet<string> = new Set([
  'HPE_INVALID_CONTENT_LENGTH',
  'HPE_UNEXPECTED_CONTENT_LENGTH',
  'HPE_INVALID_TRANSFER_ENCODING',
  'HPE_INVALID_CHUNK_SIZE',
]);

/** Fastify's `clientErrorHandler` (the server's `clientError` event). */
export function handleClientError(
  err: Error & { code?: string },
  socket: Duplex,
  limits: LingerLimits = DEFAULT_LINGER,
): void {
  // A reset connection has nobody to answer to (Node's own handler does the same).
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  // Node's rule: never write a raw response over one that has started.
  const started = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true;
  if (answered.has(socket) || started || !socket.writable) {
    socket.destroy();
    return;
  }
  answerAndLinger(socket, clientErrorToHttpError(err), socket, limits);
}
