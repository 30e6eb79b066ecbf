/**
 * Every HTTP error answers SPEC §3's `{"error", "message"}`, including the ones raised before a route runs (Node's
 * parser, Fastify's router and body limit), and a too-large body gets its 413 rather than a connection reset.
 * A real app on loopback, spoken to over raw sockets: a fetch client would refuse to send some of these requests.
 */
import * as net from 'node:net';
import { Writable } from 'node:stream';
import 'reflect-metadata';
import { Controller, Get, Module, Post, Req } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createLogger } from '@zoom-pipeline/telemetry';
import type { FastifyRequest } from 'fastify';
import { RouteTable } from './http-error';
import { createApp } from './run-app';

@Controller('hooks')
class TestController {
  @Post(':app')
  receive(@Req() req: FastifyRequest): { bytes: number } {
    return { bytes: Buffer.isBuffer(req.body) ? req.body.length : 0 };
  }

  @Get('status')
  status(): { ok: true } {
    return { ok: true };
  }

  @Get('slow')
  async slow(): Promise<{ ok: true }> {
    slowEntered();
    await slowRelease;
    return { ok: true };
  }
}

let slowEntered: () => void = () => undefined;
let slowRelease: Promise<void> = Promise.resolve();

@Module({ controllers: [TestController] })
class TestModule {}

const MAX_BODY = 64 * 1024;
let app: NestFastifyApplication;
let port: number;

beforeAll(async () => {
  const logger = createLogger({
    name: 'test',
    level: 'silent',
    destination: new Writable({ write: (_c, _e, cb) => cb() }),
  });
  app = await createApp(TestModule, {
    name: 'test',
    port: 0,
    host: '127.0.0.1',
    maxBodyBytes: MAX_BODY,
    shutdownDelayMs: 0,
    logger,
    handleSignals: false,
  });
  await app.listen(0, '127.0.0.1');
  port = (app.getHttpServer().address() as net.AddressInfo).port;
});

afterAll(async () => {
  await app?.close();
});

interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** A socket error the client saw (ECONNRESET, EPIPE), if any. */
  error?: string;
}

/** Sends `head` then `body` (in 64 KiB writes) on a fresh connection and reads the answer until the server closes. */
function rawRequest(head: string, body: Buffer = Buffer.alloc(0)): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let error: string | undefined;
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', (e: NodeJS.ErrnoException) => (error = e.code ?? e.message));
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const [headText = '', bodyText = ''] = text.split('\r\n\r\n');
      const [statusLine = '', ...headerLines] = headText.split('\r\n');
      const headers: Record<string, string> = {};
      for (const l of headerLines)
        headers[l.slice(0, l.indexOf(':')).toLowerCase()] = l.slice(l.indexOf(':') + 1).trim();
      resolve({ status: Number(statusLine.split(' ')[1] ?? 0), headers, body: bodyText, error });
    });
    socket.on('connect', () => {
      socket.write(head);
      for (let i = 0; i < body.length; i += 65_536) socket.write(body.subarray(i, i + 65_536));
      // Half-close only: the server may answer after our last byte.
      socket.end();
    });
  });
}

function expectSpecError(answer: RawAnswer, status: number, code: string): void {
  expect({ status: answer.status, error: answer.error }).toEqual({ status, error: undefined });
  expect(answer.headers['content-type']).toMatch(/^application\/json/);
  const json = JSON.parse(answer.body) as Record<string, unknown>;
  expect(Object.keys(json).sort()).toEqual(['error', 'message']);
  expect(json.error).toBe(code);
  expect(String(json.message).length).toBeGreaterThan(5);
}

describe('HTTP errors before and around routes', () => {
  it('answers 431 headers_too_large (Node parser clientError) in the SPEC shape', async () => {
    expectSpecError(
      await rawRequest(`GET /hooks/status HTTP/1.1\r\nHost: t\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`),
      431,
      'headers_too_large',
    );
  });

  it.each([
    [
      'a Content-Length that is not a number',
      'POST /hooks/a HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: abc\r\n\r\n',
    ],
    [
      'both Content-Length and chunked Transfer-Encoding',
      'POST /hooks/a HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: ' +
        '2\r\nTransfer-Encoding: chunked\r\n\r\n{}',
    ],
  ])('answers 400 bad_framing for %s', async (_name, head) => {
    expectSpecError(await rawRequest(head), 400, 'bad_framing');
  });

  it('answers 400 bad_request for a request line that is not HTTP', async () => {
    expectSpecError(await rawRequest('HELLO\r\n\r\n'), 400, 'bad_request');
  });

  it('answers 400 bad_url for a URL that does not percent-decode (Fastify router error)', async () => {
    expectSpecError(
      await rawRequest('GET /hooks/%zz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n'),
      400,
      'bad_url',
    );
  });

  it('answers 404 not_found for an unknown path and 405 method_not_allowed with Allow for a known one', async () => {
    expectSpecError(
      await rawRequest('GET /nowhere HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n'),
      404,
      'not_found',
    );
    const wrongMethod = await rawRequest('DELETE /hooks/status HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n');
    expectSpecError(wrongMethod, 405, 'method_not_allowed');
    expect(wrongMethod.headers.allow).toContain('GET');
    const getOnPost = await rawRequest('GET /hooks/zoom-app?x=1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n');
    expectSpecError(getOnPost, 405, 'method_not_allowed');
    expect(getOnPost.headers.allow).toBe('POST');
  });

  it('still answers a good request normally', async () => {
    const ok = await rawRequest(
      'POST /hooks/a HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: ' +
        'close\r\n\r\n{}',
    );
    expect(ok.status).toBe(201);
    expect(JSON.parse(ok.body)).toEqual({ bytes: 2 });
  });
});

describe('413 with a lingering close', () => {
  const fiveMiB = Buffer.alloc(5 * 1024 * 1024, 0x78);

  it('gives every one of 20 sequential 5 MiB posts (Content-Length) a 413 body_too_large, never a reset', async () => {
    const answers: RawAnswer[] = [];
    for (let i = 0; i < 20; i++) {
      answers.push(
        await rawRequest(
          'POST /hooks/a HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: ' +
            `${fiveMiB.length}\r\n\r\n`,
          fiveMiB,
        ),
      );
    }
    for (const a of answers) expectSpecError(a, 413, 'body_too_large');
    expect(answers[0].headers.connection).toBe('close');
  });

  it('gives every one of 3×8 concurrent 5 MiB posts, chunked and not, a 413', async () => {
    const post = (chunked: boolean) =>
      chunked
        ? rawRequest(
            'POST /hooks/a HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n',
            Buffer.concat([Buffer.from(`${fiveMiB.length.toString(16)}\r\n`), fiveMiB, Buffer.from('\r\n0\r\n\r\n')]),
          )
        : rawRequest(
            'POST /hooks/a HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: ' +
              `${fiveMiB.length}\r\n\r\n`,
            fiveMiB,
          );
    for (let round = 0; round < 3; round++) {
      const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => post(i % 2 === 0)));
      for (const a of answers) expectSpecError(a, 413, 'body_too_large');
    }
  });
});

describe('while shutting down', () => {
  it(
    'answers a request that arrives on a kept-alive connection during close with 503 shutting_down and ' +
      'Retry-After',
    async () => {
      const logger = createLogger({
        name: 'test',
        level: 'silent',
        destination: new Writable({ write: (_c, _e, cb) => cb() }),
      });
      const closingApp = await createApp(TestModule, {
        name: 'test',
        port: 0,
        host: '127.0.0.1',
        maxBodyBytes: MAX_BODY,
        shutdownDelayMs: 0,
        logger,
        handleSignals: false,
      });
      await closingApp.listen(0, '127.0.0.1');
      const server = closingApp.getHttpServer();
      const closingPort = (server.address() as net.AddressInfo).port;
      const entered = new Promise<void>((resolve) => (slowEntered = resolve));
      let release: () => void = () => undefined;
      slowRelease = new Promise<void>((resolve) => (release = resolve));

      const socket = net.connect(closingPort, '127.0.0.1');
      const chunks: Buffer[] = [];
      socket.on('data', (d: Buffer) => chunks.push(d));
      const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
      socket.write('GET /hooks/slow HTTP/1.1\r\nHost: t\r\n\r\n');
      await entered;
      const closing = closingApp.close();
      // The listener stops after Fastify's preClose hooks ran: from then on the app is closing.
      while (server.listening) await new Promise((r) => setImmediate(r));
      socket.write('GET /hooks/status HTTP/1.1\r\nHost: t\r\n\r\n');
      release();
      await closed;
      await closing;
      const text = Buffer.concat(chunks).toString('utf8');
      const second = text.slice(text.indexOf('HTTP/1.1', 1));
      expect(second).toMatch(/^HTTP\/1\.1 503 /);
      expect(second.toLowerCase()).toContain('retry-after: 5');
      expect(JSON.parse(second.slice(second.indexOf('\r\n\r\n') + 4))).toEqual({
        error: 'shutting_down',
        message: expect.any(String),
      });
    },
  );
});

describe('RouteTable', () => {
  it('matches :params to one path segment, ignores the query and a trailing slash', () => {
    const t = new RouteTable();
    t.add('POST', '/webhooks/zoom');
    t.add('POST', '/webhooks/zoom/:app');
    t.add(['GET', 'HEAD'], '/healthz');
    expect(t.allowedMethods('/webhooks/zoom/sales?x=1')).toEqual(['POST']);
    expect(t.allowedMethods('/webhooks/zoom/')).toEqual(['POST']);
    expect(t.allowedMethods('/healthz')).toEqual(['GET', 'HEAD']);
    expect(t.allowedMethods('/webhooks/zoom/a/b')).toEqual([]);
    expect(t.allowedMethods('/webhooks.zoom')).toEqual([]);
  });
});
