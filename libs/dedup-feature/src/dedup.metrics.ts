import { Counter, Histogram, type Registry } from 'prom-client';

export class DedupMetrics {
  readonly canonical: Counter<'event'>;
  readonly duplicates: Counter<'event'>;
  readonly claimSeconds: Histogram;
  readonly storeErrors: Counter;
  readonly deadLetters: Counter<'reason'>;
  readonly files: Counter<'outcome' | 'reason'>;
  readonly flaggedFiles: Counter<'flag'>;

  constructor(registry: Registry) {
    this.canonical = new Counter({
      name: 'zoom_dedup_canonical_events_total',
      help: 'Canonical events emitted to zoom.events',
      labelNames: ['event'],
      registers: [registry],
    });
    this.duplicates = new Counter({
      name: 'zoom_dedup_duplicates_total',
      help: 'Deliveries suppressed as repeats of an occurrence',
      labelNames: ['event'],
      registers: [registry],
    });
    this.claimSeconds = new Histogram({
      name: 'zoom_dedup_claim_seconds',
      help: 'Latency of the one claim round trip of a fetched batch',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1],
      registers: [registry],
    });
    this.storeErrors = new Counter({
      name: 'zoom_dedup_store_errors_total',
      help: 'Dedup store (Redis) errors; the batch is retried',
      registers: [registry],
    });
    this.deadLetters = new Counter({
      name: 'zoom_dedup_dead_letters_total',
      help: 'Raw records that could not be processed and went to the dead-letter topic',
      labelNames: ['reason'],
      registers: [registry],
    });
    this.files = new Counter({
      name: 'zoom_dedup_recording_files_total',
      help:
        'Recording file entries of canonical events: queued on zoom.recording.files, failed (cannot be ' +
        'fetched, on zoom.recording.failed), skipped (an entry repeated verbatim)',
      labelNames: ['outcome', 'reason'],
      registers: [registry],
    });
    this.flaggedFiles = new Counter({
      name: 'zoom_dedup_recording_files_flagged_total',
      help:
        'Queued files that need special handling: size_unknown, not_completed (Zoom status ' +
        'processing), derived_id (no Zoom id), no_download_token',
      labelNames: ['flag'],
      registers: [registry],
    });
  }
}
