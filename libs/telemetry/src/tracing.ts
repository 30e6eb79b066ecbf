import {
  type Attributes,
  type Context,
  type Span,
  SpanKind,
  SpanStatusCode,
  context,
  propagation,
  trace,
} from '@opentelemetry/api';

export { SpanKind, SpanStatusCode, context, trace, type Context, type Span };

/** One tracer for the whole pipeline; a no-op until `@zoom-pipeline/telemetry/register` started the SDK. */
export const TRACER_NAME = 'zoom-pipeline';

export function tracer() {
  return trace.getTracer(TRACER_NAME);
}

/** Semantic-convention keys we set by hand (messaging, HTTP client, S3) plus our own `zoom.*` ones. */
export const ATTR = {
  messagingSystem: 'messaging.system',
  messagingDestination: 'messaging.destination.name',
  messagingOperationType: 'messaging.operation.type',
  messagingOperationName: 'messaging.operation.name',
  messagingConsumerGroup: 'messaging.consumer.group.name',
  messagingPartition: 'messaging.destination.partition.id',
  messagingOffset: 'messaging.kafka.offset',
  messagingKey: 'messaging.kafka.message.key',
  messagingBatchCount: 'messaging.batch.message_count',
  httpMethod: 'http.request.method',
  httpStatus: 'http.response.status_code',
  serverAddress: 'server.address',
  serverPort: 'server.port',
  rpcSystem: 'rpc.system',
  rpcService: 'rpc.service',
  rpcMethod: 'rpc.method',
  s3Bucket: 'aws.s3.bucket',
  s3Key: 'aws.s3.key',
  errorType: 'error.type',
  zoomEvent: 'zoom.event',
  zoomMeetingUuid: 'zoom.meeting_uuid',
  zoomFileId: 'zoom.file_id',
  zoomCanonicalId: 'zoom.canonical_id',
  zoomFileSize: 'zoom.file_size',
} as const;

/** Kafka messaging attributes for one record. */
export function kafkaAttributes(topic: string, operation: 'publish' | 'process', extra: Attributes = {}): Attributes {
  return {
    [ATTR.messagingSystem]: 'kafka',
    [ATTR.messagingDestination]: topic,
    [ATTR.messagingOperationType]: operation,
    [ATTR.messagingOperationName]: operation === 'publish' ? 'send' : 'process',
    ...extra,
  };
}

/** The context carried by message headers (W3C `traceparent`/`tracestate`), on top of `parent`. */
export function extractContext(
  headers: Readonly<Record<string, string>> | undefined,
  parent: Context = context.active(),
): Context {
  return headers ? propagation.extract(parent, headers) : parent;
}

/**
 * Writes the context's span into `headers` (W3C trace context), replacing what was there. With the SDK off
 * the propagator is a no-op, so whatever the headers already carried (Zoom's `traceparent`) is kept.
 */
export function injectTraceHeaders(
  headers: Record<string, string>,
  ctx: Context = context.active(),
): Record<string, string> {
  propagation.inject(ctx, headers);
  return headers;
}

/**
 * Headers for a message produced while handling `incoming`: its W3C trace headers, overwritten with `ctx`'s
 * span when tracing is on (so the next service's span is a child of ours), kept as they were when it is off.
 */
export function forwardTraceHeaders(
  incoming: Record<string, string>,
  ctx: Context = context.active(),
): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const k of ['traceparent', 'tracestate']) if (incoming[k]) headers[k] = incoming[k];
  return injectTraceHeaders(headers, ctx);
}

/** Marks a span failed with an error's class and code, never its message (it may quote a URL). */
export function recordFailure(span: Span, err: unknown, type?: string): void {
  const e = err as { name?: string; code?: unknown };
  span.setAttribute(ATTR.errorType, type ?? (typeof e?.code === 'string' ? e.code : (e?.name ?? 'Error')));
  span.setStatus({ code: SpanStatusCode.ERROR });
}

/** Runs `fn` inside a new active span (child of `parent`), ends it, and records a thrown error. */
export async function inSpan<T>(
  name: string,
  options: { kind?: SpanKind; attributes?: Attributes; parent?: Context },
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  const parent = options.parent ?? context.active();
  const span = tracer().startSpan(
    name,
    { kind: options.kind ?? SpanKind.INTERNAL, attributes: options.attributes },
    parent,
  );
  try {
    return await context.with(trace.setSpan(parent, span), () => fn(span));
  } catch (err) {
    recordFailure(span, err);
    throw err;
  } finally {
    span.end();
  }
}

/** `trace_id`/`span_id` of the active span for log lines; empty when none (or the SDK is off). */
export function activeTraceFields(): { trace_id?: string; span_id?: string } {
  const span = trace.getActiveSpan();
  if (!span) return {};
  const sc = span.spanContext();
  if (!trace.isSpanContextValid(sc)) return {};
  return { trace_id: sc.traceId, span_id: sc.spanId };
}
