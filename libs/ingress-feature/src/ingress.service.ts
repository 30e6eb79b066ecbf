import { randomUUID } from 'node:crypto';
import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { type AppConfig, CONFIG } from '@zoom-pipeline/config';
import { HEADERS, TOPICS, encodeRawDelivery, topicSpec } from '@zoom-pipeline/contracts';
import { withDeadline } from '@zoom-pipeline/async-kit';
import { BusUnavailableError, EVENT_BUS, type EventBus, type OutgoingMessage } from '@zoom-pipeline/event-bus';
import { HealthService, HttpError, LOGGER, METRICS_REGISTRY } from '@zoom-pipeline/service-kit';
import {
  ATTR,
  type Logger,
  SpanKind,
  inSpan,
  injectTraceHeaders,
  kafkaAttributes,
  trace,
} from '@zoom-pipeline/telemetry';
import {
  answerUrlValidation,
  describeJsonBodyFailure,
  describeVerifyFailure,
  meetingUuidOf,
  parseEnvelope,
  partitionKey,
  plainTokenOf,
  verifySignature,
} from '@zoom-pipeline/zoom-webhook';
import type { Registry } from 'prom-client';
import { type DeliveryOutcome, IngressMetrics, eventLabel } from './ingress.metrics';

export interface IncomingRequest {
  app: string;
  rawBody: Buffer | undefined;
  headers: Record<string, string | string[] | undefined>;
  sourceIp: string;
  /** hrtime-free wall clock of arrival, epoch ms. */
  receivedAtMs: number;
}

export type IngressResult = { ok: true; body: Record<string, unknown> } | { ok: false; error: HttpError };

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

function header(h: IncomingRequest['headers'], name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * Verify, append durably, then acknowledge (SPEC §3). The 200 is sent only after the log has the
 * delivery; if the append cannot finish before the ack deadline we answer 503 and Zoom retries later.
 */
@Injectable()
export class IngressService implements OnModuleInit {
  private readonly metrics: IngressMetrics;

  constructor(
    @Inject(CONFIG) private readonly config: AppConfig,
    @Inject(EVENT_BUS) private readonly bus: EventBus,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(METRICS_REGISTRY) registry: Registry,
    private readonly health: HealthService,
  ) {
    this.metrics = new IngressMetrics(registry);
  }

  async onModuleInit(): Promise<void> {
    this.health.addReadiness({ name: 'event-bus', check: () => this.bus.isReady() });
    try {
      await this.bus.ensureTopics([topicSpec(TOPICS.raw)]);
    } catch (err) {
      // Topics may be managed outside (Strimzi KafkaTopic, ACLs): not fatal, readiness tells the rest.
      this.logger.warn({ cause: (err as Error).message }, `could not ensure topic ${TOPICS.raw}`);
    }
  }

  async receive(req: IncomingRequest): Promise<IngressResult> {
    const started = process.hrtime.bigint();
    const result = await this.handle(req);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    this.metrics.ackSeconds.observe({ outcome: result.outcome }, seconds);
    this.metrics.deliveries.inc({ app: result.appLabel, event: eventLabel(result.event), outcome: result.outcome });
    return result.result;
  }

  private async handle(
    req: IncomingRequest,
  ): Promise<{ result: IngressResult; outcome: DeliveryOutcome; event?: string; appLabel: string }> {
    const secrets = secretsOf(this.config.webhook.secretsByApp, req.app);
    if (!secrets) {
      return fail(
        'unknown_app',
        'other',
        new HttpError(404, 'unknown_app', 'no secret token is configured for this webhook path'),
      );
    }
    const app = req.app;
    const contentType = header(req.headers, 'content-type');
    if (!contentType || !JSON_TYPE.test(contentType)) {
      return fail(
        'unsupported_media_type',
        app,
        new HttpError(415, 'unsupported_media_type', 'the content type must be application/json'),
      );
    }
    const rawBody = req.rawBody ?? Buffer.alloc(0);
    const timestamp = header(req.headers, 'x-zm-request-timestamp');
    const verdict = verifySignature({
      rawBody,
      signature: header(req.headers, 'x-zm-signature'),
      timestamp,
      secrets,
      nowMs: req.receivedAtMs,
      toleranceMs: this.config.webhook.signatureToleranceMs,
    });
    if (!verdict.ok) {
      if (verdict.reason === 'timestamp_stale') {
        this.metrics.staleSignatures.inc({ app });
        // Lengths and the reason only: never the signature, the secret or anything derived from them.
        this.logger.warn(
          { app, reason: verdict.reason, bodyBytes: rawBody.length },
          'correctly signed delivery outside the signature tolerance',
        );
        return fail(
          'timestamp_stale',
          app,
          new HttpError(
            401,
            verdict.reason,
            describeVerifyFailure(verdict.reason, this.config.webhook.signatureToleranceMs),
          ),
        );
      }
      this.logger.info(
        { app, reason: verdict.reason, bodyBytes: rawBody.length, sourceIp: req.sourceIp },
        'webhook refused: signature check failed',
      );
      return fail(
        'signature_rejected',
        app,
        new HttpError(
          401,
          verdict.reason,
          describeVerifyFailure(verdict.reason, this.config.webhook.signatureToleranceMs),
        ),
      );
    }

    const parsed = parseEnvelope(rawBody);
    if (!parsed.ok) {
      // The same rule dedup applies (parseEnvelope): refuse here what dedup could not process, never ack and drop.
      const message =
        parsed.reason === 'event_missing' ? 'the body has no "event" string' : describeJsonBodyFailure(parsed.reason);
      return fail('bad_body', app, new HttpError(400, parsed.reason, message));
    }
    const envelope = parsed.envelope;
    const meetingUuid = meetingUuidOf(envelope);
    // The HTTP server span (instrumentation-http, child of Zoom's traceparent) is active here.
    trace.getActiveSpan()?.setAttributes({
      [ATTR.zoomEvent]: envelope.event,
      ...(meetingUuid ? { [ATTR.zoomMeetingUuid]: meetingUuid } : {}),
    });

    if (envelope.event === 'endpoint.url_validation') {
      const plainToken = plainTokenOf(envelope);
      if (!plainToken) {
        return fail(
          'bad_body',
          app,
          new HttpError(400, 'plain_token_missing', 'endpoint.url_validation needs payload.plainToken'),
          envelope.event,
        );
      }
      // Answer with the secret that verified this request (rotation: old and new secrets both work).
      return {
        result: { ok: true, body: answerUrlValidation(plainToken, secrets[verdict.secretIndex]) },
        outcome: 'url_validation',
        event: envelope.event,
        appLabel: app,
      };
    }

    const id = randomUUID();
    const traceparent = header(req.headers, 'traceparent');
    const tracestate = header(req.headers, 'tracestate');
    // Value = the verified bytes as they are (no copy, no re-encoding); what we know about them goes in headers.
    const record = encodeRawDelivery({
      id,
      receivedAt: new Date(req.receivedAtMs).toISOString(),
      app,
      sourceIp: req.sourceIp,
      event: envelope.event,
      headers: {
        timestamp: timestamp as string,
        trackingId: header(req.headers, 'x-zm-trackingid'),
        requestId: header(req.headers, 'x-zm-request-id'),
        traceparent,
        tracestate,
      },
      body: rawBody,
    });
    const headers = record.headers;
    // With tracing off, Zoom's trace context is passed on as is; with tracing on, injectTraceHeaders replaces it
    // with the publish span's (Zoom's own stays in the zp-delivery header).
    if (traceparent) headers[HEADERS.traceparent] = traceparent;
    if (tracestate) headers[HEADERS.tracestate] = tracestate;

    const key = partitionKey(envelope);
    try {
      // A PRODUCER span under the server span; its context replaces Zoom's traceparent in the Kafka headers
      // so dedup's span is a child of ours (SPEC invariant 8). With tracing off, Zoom's header is kept.
      await inSpan(
        `publish ${TOPICS.raw}`,
        {
          kind: SpanKind.PRODUCER,
          attributes: kafkaAttributes(TOPICS.raw, 'publish', {
            [ATTR.zoomEvent]: envelope.event,
            ...(meetingUuid
              ? { [ATTR.zoomMeetingUuid]: meetingUuid, [ATTR.messagingKey]: key === meetingUuid ? key : undefined }
              : {}),
          }),
        },
        async () => {
          injectTraceHeaders(headers);
          await this.appendWithin(
            { topic: TOPICS.raw, key, value: record.value, headers },
            req.receivedAtMs + this.config.webhook.ackDeadlineMs - Date.now(),
          );
        },
      );
    } catch (err) {
      const reason = err instanceof BusUnavailableError ? 'unavailable' : 'error';
      this.metrics.busErrors.inc({ reason });
      this.logger.warn(
        { app, event: envelope.event, deliveryId: id, reason, cause: (err as Error).message },
        'append failed; answering 503 so Zoom retries',
      );
      return fail(
        'unavailable',
        app,
        new HttpError(503, 'log_unavailable', 'the delivery could not be stored durably in time; retry later', {
          'retry-after': '5',
        }),
        envelope.event,
      );
    }
    return {
      result: { ok: true, body: { status: 'accepted', id } },
      outcome: 'accepted',
      event: envelope.event,
      appLabel: app,
    };
  }

  /**
   * The one ack deadline on the ingress path (SPEC §3), counted from the request's arrival: one timer, here. The
   * bus gets its signal and drops the message (or abandons the send) when it aborts; nothing below races a timer
   * of its own, and an adapter that ignores the signal still cannot hold the answer past the deadline.
   */
  private async appendWithin(message: OutgoingMessage, budgetMs: number): Promise<void> {
    if (budgetMs <= 0) throw new BusUnavailableError('ack deadline passed before the append started');
    await withDeadline(
      budgetMs,
      (signal) => this.bus.publish([message], { signal }),
      () => new BusUnavailableError('append not acknowledged within the ack deadline'),
    );
  }
}

/**
 * The secrets of an app named by the URL, or undefined. Own properties only: a path segment such as `constructor`,
 * `__proto__` or `toString` must not find Object.prototype's members and go on to a signature check (a 401 would
 * say the app exists).
 */
export function secretsOf(
  secretsByApp: AppConfig['webhook']['secretsByApp'],
  app: string,
): readonly string[] | undefined {
  if (!Object.hasOwn(secretsByApp, app)) return undefined;
  const secrets = secretsByApp[app];
  return Array.isArray(secrets) ? secrets : undefined;
}

function fail(outcome: DeliveryOutcome, appLabel: string, error: HttpError, event?: string) {
  return { result: { ok: false as const, error }, outcome, event, appLabel };
}
