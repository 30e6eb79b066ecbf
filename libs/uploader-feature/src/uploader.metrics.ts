import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export class UploaderMetrics {
  readonly bytes: Counter;
  readonly files: Counter<'outcome' | 'file_type'>;
  readonly seconds: Histogram<'outcome'>;
  readonly retries: Counter<'reason'>;
  readonly failures: Counter<'reason'>;
  readonly inFlight: Gauge;

  constructor(registry: Registry) {
    this.bytes = new Counter({
      name: 'zoom_upload_bytes_total',
      help: 'Recording bytes stored',
      registers: [registry],
    });
    this.files = new Counter({
      name: 'zoom_upload_files_total',
      help: 'Recording files by outcome (uploaded, already_stored, skipped_type, failed)',
      labelNames: ['outcome', 'file_type'],
      registers: [registry],
    });
    this.seconds = new Histogram({
      name: 'zoom_upload_duration_seconds',
      help: 'Download-to-store duration per file',
      labelNames: ['outcome'],
      buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600],
      registers: [registry],
    });
    this.retries = new Counter({
      name: 'zoom_upload_retries_total',
      help: 'Retried attempts by reason',
      labelNames: ['reason'],
      registers: [registry],
    });
    this.failures = new Counter({
      name: 'zoom_upload_failures_total',
      help: 'Files sent to zoom.recording.failed, by reason',
      labelNames: ['reason'],
      registers: [registry],
    });
    this.inFlight = new Gauge({
      name: 'zoom_upload_in_flight',
      help: 'Files being transferred now',
      registers: [registry],
    });
  }
}
