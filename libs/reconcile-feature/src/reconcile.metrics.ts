import { Counter, Gauge, type Registry } from 'prom-client';

export class ReconcileMetrics {
  readonly runs: Counter<'trigger' | 'status'>;
  readonly files: Counter<'outcome'>;
  readonly lastRunTime: Gauge;
  readonly lastRunFiles: Gauge<'outcome'>;
  readonly ledgerWrites: Counter;
  readonly redriven: Counter<'reason'>;
  readonly trash: Counter<'outcome'>;

  constructor(registry: Registry) {
    this.runs = new Counter({
      name: 'zoom_reconcile_runs_total',
      help: 'Reconcile runs by trigger (schedule, api) and end (ok, failed, busy)',
      labelNames: ['trigger', 'status'],
      registers: [registry],
    });
    this.files = new Counter({
      name: 'zoom_reconcile_files_total',
      help:
        'Files found by reconcile runs: stored (already in the ledger), queued (work item emitted), ' +
        'in_flight (queued recently), not_ready, filtered, unfetchable',
      labelNames: ['outcome'],
      registers: [registry],
    });
    this.lastRunTime = new Gauge({
      name: 'zoom_reconcile_last_run_timestamp_seconds',
      help: 'End of the last finished reconcile run (epoch seconds)',
      registers: [registry],
    });
    this.lastRunFiles = new Gauge({
      name: 'zoom_reconcile_last_run_files',
      help: 'Files of the last finished reconcile run by outcome (found, missing, queued)',
      labelNames: ['outcome'],
      registers: [registry],
    });
    this.ledgerWrites = new Counter({
      name: 'zoom_reconcile_ledger_writes_total',
      help: 'Stored files recorded in the ledger from zoom.recording.uploaded',
      registers: [registry],
    });
    this.trash = new Counter({
      name: 'zoom_trash_files_total',
      help:
        'ZOOM_AFTER_UPLOAD=trash: stored files moved to the Zoom trash (trashed), skipped ' +
        '(already_trashed, not_trashable: no own Zoom id), refused (unverified: the stored copy did not ' +
        'match size and SHA-256) or failed',
      labelNames: ['outcome'],
      registers: [registry],
    });
    this.redriven = new Counter({
      name: 'zoom_redrive_files_total',
      help: 'Dead-lettered files re-queued on zoom.recording.files by a redrive, by failure reason',
      labelNames: ['reason'],
      registers: [registry],
    });
  }
}
