import { Counter, Histogram, type Registry } from 'prom-client';

export type DeliveryOutcome =
  | 'accepted'
  | 'url_validation'
  | 'unknown_app'
  | 'unsupported_media_type'
  | 'signature_rejected'
  | 'timestamp_stale'
  | 'bad_body'
  | 'unavailable';

/** Ingress metrics (issue: deliveries by event and outcome, ack latency, stale-but-valid signatures, bus errors). */
export class IngressMetrics {
  readonly deliveries: Counter<'app' | 'event' | 'outcome'>;
  readonly ackSeconds: Histogram<'outcome'>;
  readonly staleSignatures: Counter<'app'>;
  readonly busErrors: Counter<'reason'>;

  constructor(registry: Registry) {
    this.deliveries = new Counter({
      name: 'zoom_webhook_deliveries_total',
      help: 'Webhook requests by app, Zoom event (only for verified bodies) and outcome',
      labelNames: ['app', 'event', 'outcome'],
      registers: [registry],
    });
    this.ackSeconds = new Histogram({
      name: 'zoom_webhook_ack_seconds',
      help: 'Time from request received to response (the durable append included for accepted deliveries)',
      labelNames: ['outcome'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 3],
      registers: [registry],
    });
    this.staleSignatures = new Counter({
      name: 'zoom_webhook_stale_signatures_total',
      help: 'Correctly signed deliveries refused because their timestamp is outside SIGNATURE_TOLERANCE',
      labelNames: ['app'],
      registers: [registry],
    });
    this.busErrors = new Counter({
      name: 'zoom_webhook_bus_errors_total',
      help: 'Appends to zoom.webhooks.raw that failed or missed the ack deadline (answered 503)',
      labelNames: ['reason'],
      registers: [registry],
    });
  }
}

/** The `event` label is from a closed set (known Zoom events, else `other`): see zoom-webhook's metric-labels.ts. */
export { eventLabel } from '@zoom-pipeline/zoom-webhook';
