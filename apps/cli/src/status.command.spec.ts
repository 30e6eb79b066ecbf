import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runCli } from './cli';
import { type CommandContext } from './command-context';
import { parsePrometheusText } from './prometheus-text.parser';
import { type StatusSummary, summariseMetrics } from './status-summary';

/** What prom-client writes for the standalone process (default label `service`, families without samples). */
const SAMPLE_METRICS = `# HELP process_cpu_user_seconds_total Total user CPU time spent in seconds.
# TYPE process_cpu_user_seconds_total counter
process_cpu_user_seconds_total{service="standalone"} 1.25

# HELP zoom_webhook_deliveries_total Webhook requests by app, Zoom event (only for verified bodies) and outcome
# TYPE zoom_webhook_deliveries_total counter
zoom_webhook_deliveries_total{app="default",event="recording.completed",outcome="accepted",service="standalone"} 5
zoom_webhook_deliveries_total{app="sales-eu",event="meeting.started",outcome="accepted",service="standalone"} 2
zoom_webhook_deliveries_total{app="default",event="endpoint.url_validation",\
outcome="url_validation",service="standalone"} 1
zoom_webhook_deliveries_total{app="default",event="",outcome="signature_rejected",service="standalone"} 3
zoom_webhook_deliveries_total{app="default",event="meeting.ended",outcome="timestamp_stale",service="standalone"} 1
zoom_webhook_deliveries_total{app="default",event="",outcome="bad_body",service="standalone"} 0

# HELP zoom_webhook_ack_seconds Time from request received to response
# TYPE zoom_webhook_ack_seconds histogram
zoom_webhook_ack_seconds_bucket{le="0.005",outcome="accepted",service="standalone"} 6
zoom_webhook_ack_seconds_bucket{le="+Inf",outcome="accepted",service="standalone"} 7
zoom_webhook_ack_seconds_sum{outcome="accepted",service="standalone"} 0.021
zoom_webhook_ack_seconds_count{outcome="accepted",service="standalone"} 7

# HELP zoom_webhook_stale_signatures_total Correctly signed deliveries refused
# TYPE zoom_webhook_stale_signatures_total counter
zoom_webhook_stale_signatures_total{app="default",service="standalone"} 1

# HELP zoom_dedup_canonical_events_total Canonical events emitted to zoom.events
# TYPE zoom_dedup_canonical_events_total counter
zoom_dedup_canonical_events_total{event="recording.completed",service="standalone"} 3
zoom_dedup_canonical_events_total{event="meeting.started",service="standalone"} 1

# HELP zoom_dedup_duplicates_total Deliveries suppressed as repeats of an occurrence
# TYPE zoom_dedup_duplicates_total counter
zoom_dedup_duplicates_total{event="recording.completed",service="standalone"} 2

# HELP zoom_dedup_dead_letters_total Raw records that could not be processed
# TYPE zoom_dedup_dead_letters_total counter

# HELP zoom_dedup_recording_files_total Recording file entries of canonical events
# TYPE zoom_dedup_recording_files_total counter
zoom_dedup_recording_files_total{outcome="queued",reason="",service="standalone"} 9
zoom_dedup_recording_files_total{outcome="failed",reason="download_url_missing",service="standalone"} 1
zoom_dedup_recording_files_total{outcome="skipped",reason="duplicate_entry",service="standalone"} 0

# HELP zoom_dedup_recording_files_flagged_total Queued files that need special handling
# TYPE zoom_dedup_recording_files_flagged_total counter
zoom_dedup_recording_files_flagged_total{flag="size_unknown",service="standalone"} 3
zoom_dedup_recording_files_flagged_total{flag="not_completed",service="standalone"} 1
zoom_dedup_recording_files_flagged_total{flag="derived_id",service="standalone"} 2

# HELP zoom_consumer_lag Messages not yet committed per topic partition
# TYPE zoom_consumer_lag gauge
zoom_consumer_lag{group="zoom-dedup",topic="zoom.webhooks.raw",partition="0",service="standalone"} 0

# HELP zoom_upload_bytes_total Recording bytes stored
# TYPE zoom_upload_bytes_total counter
zoom_upload_bytes_total{service="standalone"} 3221225472

# HELP zoom_upload_files_total Recording files by outcome (uploaded, already_stored, skipped_type, failed)
# TYPE zoom_upload_files_total counter
zoom_upload_files_total{outcome="uploaded",file_type="MP4",service="standalone"} 3
zoom_upload_files_total{outcome="uploaded",file_type="M4A",service="standalone"} 3
zoom_upload_files_total{outcome="already_stored",file_type="MP4",service="standalone"} 2
zoom_upload_files_total{outcome="skipped_type",file_type="CHAT",service="standalone"} 3
zoom_upload_files_total{outcome="failed",file_type="TRANSCRIPT",service="standalone"} 2

# HELP zoom_upload_failures_total Files sent to zoom.recording.failed, by reason
# TYPE zoom_upload_failures_total counter
zoom_upload_failures_total{reason="download_forbidden",service="standalone"} 1
zoom_upload_failures_total{reason="size_mismatch",service="standalone"} 1

# HELP zoom_upload_in_flight Files being transferred now
# TYPE zoom_upload_in_flight gauge
zoom_upload_in_flight{service="standalone"} 1
`;

interface FakeService {
  base: string;
  close(): Promise<void>;
}

async function startService(ready: boolean, metrics = SAMPLE_METRICS): Promise<FakeService> {
  const server: Server = createServer((req, res) => {
    if (req.url === '/readyz') {
      const checks = { 'event-bus': true, 'dedup-store': ready, 'object-store': true };
      const body = ready
        ? { status: 'ready', checks }
        : { error: 'not_ready', message: 'a dependency is unreachable', checks };
      res.writeHead(ready ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    } else if (req.url === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(metrics);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A loopback port nobody listens on (and no pooled connection points to). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function context(cwd: string): CommandContext & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    io: { out: (l) => out.push(l), err: (l) => err.push(l), progress: () => undefined },
    env: {},
    cwd,
    repoRoot: undefined,
    readStdin: () => Promise.resolve(''),
  };
}

describe('prometheus text → status summary', () => {
  it('parses samples with labels, escapes, special values and timestamps', () => {
    const exp = parsePrometheusText(
      [
        '# TYPE a counter',
        'a{x="q\\"uote",y="back\\\\slash",z="new\\nline"} 2 1700000000000',
        'b +Inf',
        'c NaN',
        'd{} -1.5e3',
        'garbage line {',
      ].join('\n'),
    );
    expect(exp.samples.slice(0, 2)).toEqual([
      { name: 'a', labels: { x: 'q"uote', y: 'back\\slash', z: 'new\nline' }, value: 2 },
      { name: 'b', labels: {}, value: Number.POSITIVE_INFINITY },
    ]);
    expect(exp.samples.map((s) => s.name)).toEqual(['a', 'b', 'c', 'd']);
    expect(exp.samples[3]!.value).toBe(-1500);
    expect(exp.types.get('a')).toBe('counter');
  });

  it('summarises deliveries, dedup and uploads from the three features\u2019 metrics', () => {
    expect(summariseMetrics(parsePrometheusText(SAMPLE_METRICS))).toEqual({
      deliveries: {
        accepted: 7,
        urlValidation: 1,
        refused: 4,
        refusedByReason: { signature_rejected: 3, timestamp_stale: 1 },
        staleSignatures: 1,
      },
      dedup: {
        canonicalEvents: 4,
        duplicatesSuppressed: 2,
        deadLetters: 0,
        files: {
          queued: 9,
          failed: 1,
          failedByReason: { download_url_missing: 1 },
          repeated: 0,
          flagged: { size_unknown: 3, not_completed: 1, derived_id: 2 },
        },
      },
      uploads: {
        uploaded: 6,
        alreadyStored: 2,
        skippedType: 3,
        failed: 2,
        failedByReason: { download_forbidden: 1, size_mismatch: 1 },
        bytesStored: 3221225472,
        inFlight: 1,
      },
      backlog: 0,
    });
  });

  it('leaves out the sections of services that are not in this process (cluster mode)', () => {
    const ingressOnly = SAMPLE_METRICS.split('\n\n')
      .filter((block) => block.includes('zoom_webhook'))
      .join('\n\n');
    const s = summariseMetrics(parsePrometheusText(ingressOnly));
    expect(Object.keys(s)).toEqual(['deliveries']);
  });
});

describe('zoom-pipeline status', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'zp-cli-status-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints a short human summary and the newest stored objects, skipping .tmp and .meta', async () => {
    const service = await startService(true);
    try {
      const objects = path.join(dir, 'data', 'objects');
      for (let i = 0; i < 12; i++) {
        const file = path.join(objects, 'acct', '2025', `rec-${String(i).padStart(2, '0')}.mp4`);
        mkdirSync(path.dirname(file), { recursive: true });
        writeFileSync(file, Buffer.alloc(1000 + i));
        const t = new Date(Date.UTC(2025, 0, 1, 0, i));
        utimesSync(file, t, t);
      }
      mkdirSync(path.join(objects, '.tmp'), { recursive: true });
      writeFileSync(path.join(objects, '.tmp', 'partial'), 'x');
      mkdirSync(path.join(objects, '.meta', 'acct'), { recursive: true });
      writeFileSync(path.join(objects, '.meta', 'acct', 'x.json'), '{}');

      const ctx = context(dir);
      expect(await runCli(['status', '--url', service.base], ctx)).toBe(0);
      expect(ctx.err).toEqual([]);
      const text = ctx.out.join('\n');
      expect(ctx.out[0]).toBe(`zoom-pipeline at ${service.base}: ready`);
      expect(text).toContain('readiness   event-bus ok, dedup-store ok, object-store ok');
      expect(text).toContain(
        'deliveries  7 accepted, 1 url validation, 4 refused (signature_rejected 3, timestamp_stale 1); 1 ' +
          'correctly signed but stale',
      );
      expect(text).toContain('events      4 canonical, 2 duplicates suppressed');
      expect(text).toContain(
        'recordings  9 files queued, 1 cannot be fetched (download_url_missing 1; on zoom.recording.failed); ' +
          'of the queued: size_unknown 3, derived_id 2, not_completed 1',
      );
      expect(text).toContain(
        'files       6 uploaded, 2 already stored, 3 skipped by type, 2 failed (download_forbidden 1, size_mismatch 1)',
      );
      expect(text).toContain('stored      3.0 GiB; 1 uploads in flight');
      expect(text).toMatch(/objects in .*data\/objects \(12, .* newest 10\):/);
      const listed = ctx.out.filter((l) => l.includes('rec-'));
      expect(listed).toHaveLength(10);
      expect(listed[0]).toMatch(/^ {2}2025-01-01 00:11:00Z {2}1011 B {2}acct\/2025\/rec-11\.mp4$/);
      expect(listed[9]).toContain('rec-02.mp4');
      expect(text).not.toMatch(/partial|x\.json/);
    } finally {
      await service.close();
    }
  });

  it('--json gives the same summary for machines; a pasted webhook URL is cut back to the service', async () => {
    const service = await startService(true);
    try {
      const ctx = context(dir);
      expect(
        await runCli(
          ['status', '--url', `${service.base}/webhooks/zoom`, '--json', '--data-dir', path.join(dir, 'missing')],
          ctx,
        ),
      ).toBe(0);
      const s = JSON.parse(ctx.out.join('\n')) as StatusSummary;
      expect(s.readiness).toEqual({
        reachable: true,
        ready: true,
        status: 'ready',
        checks: { 'event-bus': true, 'dedup-store': true, 'object-store': true },
      });
      expect(s.uploads?.bytesStored).toBe(3221225472);
      expect(s.objectsError).toMatch(/no objects directory/);
    } finally {
      await service.close();
    }
  });

  it('exits 1 and names the dependency when not ready, and when the service is unreachable', async () => {
    const service = await startService(false);
    const ctx = context(dir);
    try {
      expect(await runCli(['status', '--url', service.base], ctx)).toBe(1);
      expect(ctx.out[0]).toBe(`zoom-pipeline at ${service.base}: not ready (a dependency is unreachable)`);
      expect(ctx.out[1]).toContain('dedup-store DOWN');
    } finally {
      await service.close();
    }
    const down = context(dir);
    expect(await runCli(['status', '--url', `http://127.0.0.1:${await closedPort()}`, '--json'], down)).toBe(1);
    expect(JSON.parse(down.out.join('\n'))).toMatchObject({
      readiness: { reachable: false, status: 'unreachable', error: 'ECONNREFUSED' },
      metricsError: 'ECONNREFUSED',
    });
  });

  it('refuses unknown flags and arguments with exit code 2', async () => {
    const ctx = context(dir);
    expect(await runCli(['status', '--verbose'], ctx)).toBe(2);
    expect(ctx.err[0]).toBe('zoom-pipeline: status: unknown option --verbose');
    expect(ctx.err.join('\n')).toContain('usage: zoom-pipeline status');
    const extra = context(dir);
    expect(await runCli(['status', 'now'], extra)).toBe(2);
    expect(extra.err[0]).toBe('zoom-pipeline: status: unexpected argument now');
  });
});
