// Reconcile backfill benchmark (issue 15): 10,000 meetings × 3 files in zoom-sim's REST API, a 90-day backfill through
// the reconciler's service (listing, ledger check, queueing) on in-memory adapters, zoom-sim rate-limiting with 429s.
// Reports API calls against the minimum (one per page, at least one per window) and the listing time against the time
// the uploads of the queued bytes take at the uploader throughput measured in BENCHMARKS.md ("Uploader: Zoom → S3").
// Run alone, after `npm run build`: `node dist/bench/reconcile.bench.js` (BENCH_RECONCILE_MEETINGS,
// BENCH_RECONCILE_RATE).
import { loadConfig } from '@zoom-pipeline/config';
import { MemoryDedupStore } from '@zoom-pipeline/dedup-store';
import { type EventBus, type OutgoingMessage } from '@zoom-pipeline/event-bus';
import { ReconcileMetrics, ReconcileService } from '@zoom-pipeline/reconcile-feature';
import { createLogger } from '@zoom-pipeline/telemetry';
import { S2STokenProvider } from '@zoom-pipeline/zoom-download';
import { ZoomApiClient, splitIntoWindows } from '@zoom-pipeline/zoom-api';
import { startDownloadServer, startZoomApiServer } from '@zoom-pipeline/zoom-sim';
import { Registry } from 'prom-client';

const MEETINGS = Number(process.env.BENCH_RECONCILE_MEETINGS ?? 10_000);
/** Requests per second the client may send (ZOOM_API_RATE); zoom-sim answers 429 above SIM_LIMIT per second. */
const RATE = Number(process.env.BENCH_RECONCILE_RATE ?? 20);
const SIM_LIMIT = 10;
/** Single uploader process, defaults, 2 GiB file (BENCHMARKS.md, Uploader: Zoom → S3, 2026-12-03). */
const UPLOAD_MIB_PER_S = 46.5;
const FROM = '2026-01-01';
const TO = '2026-03-31';
const SIZES = { MP4: 200 * 1024 ** 2, M4A: 30 * 1024 ** 2, TRANSCRIPT: 100 * 1024 };

async function main(): Promise<void> {
  const creds = { accountId: 'acct-bench', clientId: 'client-bench', clientSecret: 'secret-bench' };
  const dl = await startDownloadServer();
  dl.setS2SCredentials(creds);
  const api = await startZoomApiServer({ downloads: dl, maxRequestsPerSecond: SIM_LIMIT });
  const start = Date.parse(`${FROM}T00:00:00Z`);
  const spanMs = Date.parse(`${TO}T23:59:59Z`) - start;
  for (let i = 0; i < MEETINGS; i++) {
    api.addRecording({
      startTimeMs: start + Math.floor((i * spanMs) / MEETINGS),
      durationMinutes: 45,
      files: [
        { size: SIZES.MP4 },
        { size: SIZES.M4A, fileType: 'M4A' },
        { size: SIZES.TRANSCRIPT, fileType: 'TRANSCRIPT' },
      ],
    });
  }
  const client = new ZoomApiClient({
    tokens: new S2STokenProvider({ ...creds, tokenUrl: dl.tokenUrl }),
    baseUrl: api.url,
    requestsPerSecond: RATE,
  });
  let queued = 0;
  const bus = { publish: async (m: OutgoingMessage[]) => void (queued += m.length) } as unknown as EventBus;
  const config = loadConfig({ ZOOM_WEBHOOK_SECRET_TOKEN: 'x', RECONCILE_INTERVAL: 'off' });
  const service = new ReconcileService(
    config,
    bus,
    new MemoryDedupStore(),
    client,
    createLogger({ name: 'bench', level: 'silent' }),
    new ReconcileMetrics(new Registry()),
  );

  const t0 = process.hrtime.bigint();
  const started = await service.start({ from: FROM, to: TO }, 'api');
  const run = (await service.wait(started.runId))!;
  const listSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const stats = api.stats();

  const windows = splitIntoWindows(FROM, TO);
  const perWindow = windows.map(
    (w) =>
      api
        .recordings()
        .filter(
          (r) =>
            String(r.meeting.start_time).slice(0, 10) >= w.from && String(r.meeting.start_time).slice(0, 10) <= w.to,
        ).length,
  );
  const minimumCalls = perWindow.reduce((sum, n) => sum + Math.max(1, Math.ceil(n / 300)), 0);
  const uploadSeconds = run.queuedBytes / (UPLOAD_MIB_PER_S * 1024 ** 2);
  const result = {
    meetings: MEETINGS,
    files: run.filesFound,
    queued,
    windows: windows.length,
    pages: run.pages,
    apiCalls: run.apiRequests,
    minimumCalls,
    rateLimited: stats.rateLimited,
    ignoredRetryAfter: stats.ignoredRetryAfter,
    listedTwice: Object.values(stats.listed).filter((n) => n > 1).length,
    listSeconds: Number(listSeconds.toFixed(2)),
    queuedGiB: Number((run.queuedBytes / 1024 ** 3).toFixed(1)),
    uploadSecondsAtMeasuredThroughput: Math.round(uploadSeconds),
    listShareOfUpload: Number((listSeconds / uploadSeconds).toExponential(2)),
  };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  await api.close();
  await dl.close();
  if (run.status !== 'ok' || queued !== MEETINGS * 3 || result.listedTwice !== 0) process.exitCode = 1;
}

void main();
