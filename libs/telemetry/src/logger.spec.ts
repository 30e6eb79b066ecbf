import { PassThrough } from 'node:stream';
import { type Context, type ContextManager, ROOT_CONTEXT, TraceFlags, context, trace } from '@opentelemetry/api';
import { REDACT_PATHS, createLogger, safeUrl } from './logger';

/** A synchronous context manager: enough for log calls inside context.with, without the SDK. */
class StackContextManager implements ContextManager {
  private stack: Context[] = [];
  active(): Context {
    return this.stack.at(-1) ?? ROOT_CONTEXT;
  }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    ctx: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    this.stack.push(ctx);
    try {
      return fn.call(thisArg, ...args);
    } finally {
      this.stack.pop();
    }
  }
  bind<T>(_ctx: Context, target: T): T {
    return target;
  }
  enable(): this {
    return this;
  }
  disable(): this {
    this.stack = [];
    return this;
  }
}

function capture(options: { logClientIps?: boolean } = {}) {
  const stream = new PassThrough();
  const lines: Array<Record<string, unknown>> = [];
  stream.on('data', (d: Buffer) =>
    d
      .toString()
      .split('\n')
      .filter(Boolean)
      .forEach((l) => lines.push(JSON.parse(l) as Record<string, unknown>)),
  );
  const logger = createLogger({ name: 't', destination: stream, ...options });
  return { logger, lines, flush: () => new Promise((r) => setImmediate(r)) };
}

beforeAll(() => context.setGlobalContextManager(new StackContextManager()));
afterAll(() => context.disable());

describe('createLogger', () => {
  it('adds trace_id and span_id of the active span, and nothing without one', async () => {
    const { logger, lines, flush } = capture();
    const sc = { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: TraceFlags.NONE };
    context.with(trace.setSpan(context.active(), trace.wrapSpanContext(sc)), () => logger.info('inside'));
    logger.info('outside');
    await flush();
    expect(lines[0]).toMatchObject({ msg: 'inside', trace_id: sc.traceId, span_id: sc.spanId });
    expect(lines[1].msg).toBe('outside');
    expect(lines[1]).not.toHaveProperty('trace_id');
  });

  it('censors participant emails and IPs, tokens, and client IPs unless LOG_CLIENT_IPS opted in', async () => {
    const { logger, lines, flush } = capture();
    logger.info(
      {
        sourceIp: '203.0.113.9',
        participant: { email: 'a@example.com', public_ip: '198.51.100.1' },
        download_token: 'tok',
      },
      'x',
    );
    await flush();
    const text = JSON.stringify(lines[0]);
    for (const leak of ['203.0.113.9', 'a@example.com', '198.51.100.1', '"tok"']) expect(text).not.toContain(leak);
    expect(lines[0].sourceIp).toBe('[redacted]');

    const opted = capture({ logClientIps: true });
    opted.logger.info({ sourceIp: '203.0.113.9', participant: { email: 'a@example.com' } }, 'y');
    await opted.flush();
    expect(opted.lines[0].sourceIp).toBe('203.0.113.9');
    expect(JSON.stringify(opted.lines[0])).not.toContain('a@example.com');
  });

  it('keeps the exported API', () => {
    expect(REDACT_PATHS).toContain('*.email');
    expect(safeUrl('https://zoom.us/rec/download/abc/def?access_token=x')).toBe('https://zoom.us/rec/download/…');
  });
});
