import { type Exposition, hasFamily, sumBy, sumOf } from './prometheus-text.parser';
import { type StoredObjects } from './stored-objects';

/*
 * What `zoom-pipeline status` reports, from /readyz and /metrics. Metric names are those of
 * libs/{ingress,dedup,uploader}-feature/src/*.metrics.ts. A section is absent when its metrics are (a cluster
 * deployment runs each service separately, and each /metrics shows only its own).
 */

export const METRIC = {
  deliveries: 'zoom_webhook_deliveries_total',
  staleSignatures: 'zoom_webhook_stale_signatures_total',
  busErrors: 'zoom_webhook_bus_errors_total',
  canonical: 'zoom_dedup_canonical_events_total',
  duplicates: 'zoom_dedup_duplicates_total',
  dedupDeadLetters: 'zoom_dedup_dead_letters_total',
  dedupFiles: 'zoom_dedup_recording_files_total',
  dedupFlaggedFiles: 'zoom_dedup_recording_files_flagged_total',
  /** All consumer groups of the process, by `group` label (dedup, uploader). */
  consumerLag: 'zoom_consumer_lag',
  uploadBytes: 'zoom_upload_bytes_total',
  uploadFiles: 'zoom_upload_files_total',
  uploadFailures: 'zoom_upload_failures_total',
  uploadInFlight: 'zoom_upload_in_flight',
} as const;

/** Ingress outcomes that are answered 200; every other outcome is a refusal (ingress.metrics.ts DeliveryOutcome). */
const ACCEPTED_OUTCOMES: ReadonlySet<string> = new Set(['accepted', 'url_validation']);

export interface Readiness {
  reachable: boolean;
  ready: boolean;
  /** `ready`, `not_ready`, `draining`, or `unreachable`. */
  status: string;
  /** Per dependency (event-bus, dedup-store, object-store), true when reachable. */
  checks: Record<string, boolean>;
  error?: string;
}

export interface StatusSummary {
  url: string;
  readiness: Readiness;
  metricsError?: string;
  deliveries?: {
    accepted: number;
    urlValidation: number;
    refused: number;
    refusedByReason: Record<string, number>;
    staleSignatures: number;
  };
  dedup?: { canonicalEvents: number; duplicatesSuppressed: number; deadLetters: number; files?: DedupFiles };
  uploads?: {
    uploaded: number;
    alreadyStored: number;
    skippedType: number;
    failed: number;
    failedByReason: Record<string, number>;
    bytesStored: number;
    inFlight: number;
  };
  /** Messages consumed but not yet committed, dedup and uploader together. */
  backlog?: number;
  /** The last finished reconcile run of this process (standalone, or the reconciler's --url in cluster mode). */
  reconcile?: { lastRunAt: string; found: number; missing: number; queued: number };
  objects?: StoredObjects;
  objectsError?: string;
}

/** Recording file entries as dedup saw them (libs/dedup-feature/src/dedup.metrics.ts). */
export interface DedupFiles {
  queued: number;
  /** Sent to zoom.recording.failed by dedup: they can never be fetched. */
  failed: number;
  failedByReason: Record<string, number>;
  /** Entries repeated verbatim within one event (one file listed twice). */
  repeated: number;
  /** Queued files needing special handling: size_unknown, not_completed, derived_id, no_download_token. */
  flagged: Record<string, number>;
}

export function summariseMetrics(
  exp: Exposition,
): Pick<StatusSummary, 'deliveries' | 'dedup' | 'uploads' | 'backlog' | 'reconcile'> {
  const out: Pick<StatusSummary, 'deliveries' | 'dedup' | 'uploads' | 'backlog' | 'reconcile'> = {};
  if (hasFamily(exp, METRIC.deliveries)) {
    const byOutcome = sumBy(exp, METRIC.deliveries, 'outcome');
    const refusedByReason = Object.fromEntries(Object.entries(byOutcome).filter(([o]) => !ACCEPTED_OUTCOMES.has(o)));
    out.deliveries = {
      accepted: byOutcome.accepted ?? 0,
      urlValidation: byOutcome.url_validation ?? 0,
      refused: Object.values(refusedByReason).reduce((a, b) => a + b, 0),
      refusedByReason,
      staleSignatures: sumOf(exp, METRIC.staleSignatures),
    };
  }
  if (hasFamily(exp, METRIC.canonical) || hasFamily(exp, METRIC.duplicates)) {
    out.dedup = {
      canonicalEvents: sumOf(exp, METRIC.canonical),
      duplicatesSuppressed: sumOf(exp, METRIC.duplicates),
      deadLetters: sumOf(exp, METRIC.dedupDeadLetters),
    };
    if (hasFamily(exp, METRIC.dedupFiles)) {
      const byOutcome = sumBy(exp, METRIC.dedupFiles, 'outcome');
      const failedByReason: Record<string, number> = {};
      for (const sample of exp.samples) {
        if (sample.name !== METRIC.dedupFiles || sample.labels.outcome !== 'failed') continue;
        const reason = sample.labels.reason ?? '';
        failedByReason[reason] = (failedByReason[reason] ?? 0) + sample.value;
      }
      out.dedup.files = {
        queued: byOutcome.queued ?? 0,
        failed: byOutcome.failed ?? 0,
        failedByReason,
        repeated: byOutcome.skipped ?? 0,
        flagged: sumBy(exp, METRIC.dedupFlaggedFiles, 'flag'),
      };
    }
  }
  if (hasFamily(exp, METRIC.uploadFiles) || hasFamily(exp, METRIC.uploadBytes)) {
    const byOutcome = sumBy(exp, METRIC.uploadFiles, 'outcome');
    out.uploads = {
      uploaded: byOutcome.uploaded ?? 0,
      alreadyStored: byOutcome.already_stored ?? 0,
      skippedType: byOutcome.skipped_type ?? 0,
      failed: byOutcome.failed ?? 0,
      failedByReason: sumBy(exp, METRIC.uploadFailures, 'reason'),
      bytesStored: sumOf(exp, METRIC.uploadBytes),
      inFlight: sumOf(exp, METRIC.uploadInFlight),
    };
  }
  if (hasFamily(exp, METRIC.consumerLag)) {
    out.backlog = sumOf(exp, METRIC.consumerLag);
  }
  // libs/reconcile-feature/src/reconcile.metrics.ts: set when a run finishes.
  const lastRun = sumOf(exp, 'zoom_reconcile_last_run_timestamp_seconds');
  if (lastRun > 0) {
    const files = sumBy(exp, 'zoom_reconcile_last_run_files', 'outcome');
    out.reconcile = {
      lastRunAt: new Date(lastRun * 1000).toISOString(),
      found: files.found ?? 0,
      missing: files.missing ?? 0,
      queued: files.queued ?? 0,
    };
  }
  return out;
}

/** The human summary, a few lines. */
export function formatSummary(s: StatusSummary): string[] {
  const lines: string[] = [];
  const r = s.readiness;
  lines.push(`zoom-pipeline at ${s.url}: ${r.status.replace('_', ' ')}${r.error === undefined ? '' : ` (${r.error})`}`);
  const checks = Object.entries(r.checks);
  if (checks.length > 0)
    lines.push(`  readiness   ${checks.map(([name, ok]) => `${name} ${ok ? 'ok' : 'DOWN'}`).join(', ')}`);
  if (s.metricsError !== undefined) lines.push(`  metrics     unavailable (${s.metricsError})`);
  if (s.deliveries !== undefined) {
    const d = s.deliveries;
    const refused = d.refused === 0 ? 'none refused' : `${n(d.refused)} refused (${byReason(d.refusedByReason)})`;
    const validation =
      d.urlValidation === 0 ? '' : `, ${n(d.urlValidation)} url validation${d.urlValidation === 1 ? '' : 's'}`;
    const stale = d.staleSignatures === 0 ? '' : `; ${n(d.staleSignatures)} correctly signed but stale`;
    lines.push(`  deliveries  ${n(d.accepted)} accepted${validation}, ${refused}${stale}`);
  }
  if (s.dedup !== undefined) {
    const dl = s.dedup.deadLetters === 0 ? '' : `, ${n(s.dedup.deadLetters)} dead-lettered`;
    lines.push(
      `  events      ${n(s.dedup.canonicalEvents)} canonical, ${n(s.dedup.duplicatesSuppressed)} duplicates ` +
        `suppressed${dl}`,
    );
    const f = s.dedup.files;
    if (f !== undefined) {
      const failed =
        f.failed === 0
          ? ''
          : `, ${n(f.failed)} cannot be fetched (${byReason(f.failedByReason)}; on zoom.recording.failed)`;
      const repeated = f.repeated === 0 ? '' : `, ${n(f.repeated)} listed twice`;
      const flagged = byReason(Object.fromEntries(Object.entries(f.flagged).filter(([, v]) => v > 0)));
      lines.push(
        `  recordings  ${n(f.queued)} files ` +
          `queued${failed}${repeated}${flagged === '' ? '' : `; of the queued: ${flagged}`}`,
      );
    }
  }
  if (s.uploads !== undefined) {
    const u = s.uploads;
    const failed =
      u.failed === 0 ? '0 failed' : `${n(u.failed)} failed (${byReason(u.failedByReason) || 'no reason recorded'})`;
    const skipped = u.skippedType === 0 ? '' : `, ${n(u.skippedType)} skipped by type`;
    lines.push(`  files       ${n(u.uploaded)} uploaded, ${n(u.alreadyStored)} already stored${skipped}, ${failed}`);
    lines.push(`  stored      ${formatBytes(u.bytesStored)}; ${n(u.inFlight)} uploads in flight`);
  }
  if (s.reconcile !== undefined) {
    const r = s.reconcile;
    lines.push(
      `  reconcile   last run ${r.lastRunAt}: ${n(r.found)} files found, ${n(r.missing)} missing, ` +
        `${n(r.queued)} queued`,
    );
  }
  if (s.backlog !== undefined && s.backlog > 0) lines.push(`  backlog     ${n(s.backlog)} messages not yet committed`);
  if (s.objectsError !== undefined) lines.push(s.objectsError);
  if (s.objects !== undefined) {
    const o = s.objects;
    if (o.total === 0) {
      lines.push(`no objects in ${o.dir}`);
    } else {
      const shown = o.recent.length < o.total ? `, newest ${o.recent.length}` : '';
      lines.push(`objects in ${o.dir} (${n(o.total)}, ${formatBytes(o.totalBytes)}${shown}):`);
      const width = Math.max(...o.recent.map((x) => formatBytes(x.size).length));
      for (const x of o.recent)
        lines.push(
          `  ${x.mtime.replace('T', ' ').replace(/\.\d{3}Z$/, 'Z')}  ${formatBytes(x.size).padStart(width)}  ${x.key}`,
        );
    }
  }
  return lines;
}

function byReason(counts: Record<string, number>): string {
  return Object.entries(counts)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([reason, count]) => `${reason} ${n(count)}`)
    .join(', ');
}

function n(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(1);
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let unit = 'B';
  for (const u of units) {
    if (v < 1024) break;
    v /= 1024;
    unit = u;
  }
  return `${v.toFixed(1)} ${unit}`;
}
