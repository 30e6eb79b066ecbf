/**
 * Observability against real Kafka, Redis and S3, apps as processes (issue "Observability: one trace from
 * Zoom to S3"). SPEC invariant 8: one trace id from Zoom's traceparent (sampled flag OFF) through ingress,
 * dedup and uploader to the S3 request, with parent/child links; invariant 7: no secret in spans, logs or
 * metrics. The apps export OTLP/JSON to an in-test receiver (Jest's module registry bypasses the require hooks
 * OpenTelemetry patches through, so spans are taken from real processes).
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TOPICS, decodeUploadResult } from '@zoom-pipeline/contracts';
import {
  type AppProcess,
  type CollectedSpan,
  type OtlpReceiver,
  REPO_ROOT,
  loadEndpoints,
  readTopic,
  startApp,
  startOtlpReceiver,
  uniqueName,
  waitFor,
  removeBucket,
  uploaderS3Env,
} from '@zoom-pipeline/test-support';
import {
  type DownloadServer,
  ZoomWebhookSender,
  recordingCompleted,
  startDownloadServer,
  zoomMeetingUuid,
} from '@zoom-pipeline/zoom-sim';

jest.setTimeout(300_000);

const SECRET = 'observability-e2e-webhook-secret';
const SPAN_KIND_SERVER = 2;
const e = loadEndpoints();
const bucket = uniqueName('zp-otel');
const prefix = `${bucket}:`;
let receiver: OtlpReceiver;
let dl: DownloadServer;
let ingress: AppProcess;
let dedup: AppProcess;
let uploader: AppProcess;

function otelEnv(): Record<string, string> {
  return {
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_BSP_SCHEDULE_DELAY: '200',
  };
}

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  dl = await startDownloadServer();
  [ingress, dedup, uploader] = await Promise.all([
    startApp(
      'ingress',
      { KAFKA_BROKERS: e.kafkaBrokers, ZOOM_WEBHOOK_SECRET_TOKEN: SECRET, ...otelEnv() },
      { waitFor: 'readyz' },
    ),
    startApp(
      'dedup',
      { KAFKA_BROKERS: e.kafkaBrokers, REDIS_URL: e.redisUrl, REDIS_KEY_PREFIX: prefix, ...otelEnv() },
      { waitFor: 'healthz' },
    ),
    startApp(
      'uploader',
      {
        KAFKA_BROKERS: e.kafkaBrokers,
        REDIS_URL: e.redisUrl,
        REDIS_KEY_PREFIX: prefix,
        ...uploaderS3Env(e, bucket),
        ...otelEnv(),
      },
      { waitFor: 'healthz' },
    ),
  ]);
});

afterAll(async () => {
  await Promise.all([ingress, dedup, uploader].map((p) => p?.kill('SIGTERM')));
  await dl?.close();
  await receiver?.close();
  await removeBucket(bucket);
});

describe('one trace from Zoom to S3', () => {
  const traceId = randomBytes(16).toString('hex');
  const zoomSpanId = randomBytes(8).toString('hex');
  let spans: CollectedSpan[] = [];
  const secrets: string[] = [SECRET];

  it(
    "ingress, dedup and uploader spans share the trace id of Zoom's " +
      'unsampled traceparent, parent by parent down to S3',
    async () => {
      const file = dl.addFile({ size: 300_000, fileExtension: 'MP4' });
      const downloadToken = dl.issueDownloadToken([file.fileId]);
      secrets.push(downloadToken, file.token, e.s3.secretAccessKey);
      const payload = recordingCompleted({
        downloadBaseUrl: dl.url,
        meetingUuid: zoomMeetingUuid(),
        downloadToken,
        files: [{ id: file.fileId, size: file.size, fileType: 'MP4' }],
      });
      const sender = new ZoomWebhookSender({ targetUrl: `${ingress.url}/webhooks/zoom`, secret: SECRET });
      // Flags 02: random trace id, sampled bit clear, as Zoom sends it (docs/ZOOM-FACTS.md §3).
      const outcome = await sender.send(payload, { traceparent: `00-${traceId}-${zoomSpanId}-02` });
      expect(outcome.acked).toBe(true);

      const stored = await waitFor(
        'the file on zoom.recording.uploaded',
        async () => (await readTopic(TOPICS.uploaded)).find((r) => r.key === file.fileId),
        180_000,
        1_000,
      );
      expect(decodeUploadResult(stored.value).size).toBe(file.size);
      expect(stored.headers?.traceparent ?? '').toContain(traceId);

      spans = await waitFor(
        'the S3 span of the trace',
        async () => {
          const mine = receiver.spans().filter((s) => s.traceId === traceId);
          // Each process exports on its own schedule: wait for all three, not only the last one's S3 span.
          const all = ['zoom-pipeline-ingress', 'zoom-pipeline-dedup', 'zoom-pipeline-uploader'].every((svc) =>
            mine.some((s) => s.service === svc),
          );
          return all &&
            mine.some(
              (s) =>
                s.service === 'zoom-pipeline-uploader' &&
                s.attributes['aws.s3.bucket'] === bucket &&
                s.attributes['rpc.method'] === 'PutObject',
            )
            ? mine
            : undefined;
        },
        30_000,
        200,
      );
      const byId = new Map(spans.map((s) => [s.spanId, s]));
      const services = new Set(spans.map((s) => s.service));
      expect(services).toEqual(new Set(['zoom-pipeline-ingress', 'zoom-pipeline-dedup', 'zoom-pipeline-uploader']));

      // Ingress: the HTTP server span continues Zoom's span; the publish span is its child.
      const server = spans.find((s) => s.service === 'zoom-pipeline-ingress' && s.kind === SPAN_KIND_SERVER);
      expect(server).toBeDefined();
      expect(server?.parentSpanId).toBe(zoomSpanId);
      expect(server?.attributes['zoom.event']).toBe('recording.completed');
      const publish = spans.find((s) => s.name === `publish ${TOPICS.raw}`);
      expect(publish?.parentSpanId).toBe(server?.spanId);
      expect(publish?.attributes['messaging.system']).toBe('kafka');
      expect(publish?.attributes['messaging.destination.name']).toBe(TOPICS.raw);

      // Dedup: its process span's parent is an ingress span.
      const dedupSpan = spans.find((s) => s.service === 'zoom-pipeline-dedup' && s.name === `process ${TOPICS.raw}`);
      expect(dedupSpan).toBeDefined();
      expect(byId.get(dedupSpan?.parentSpanId ?? '')?.service).toBe('zoom-pipeline-ingress');
      expect(dedupSpan?.attributes['zoom.event']).toBe('recording.completed');

      // Uploader: process span under dedup's; download and S3 upload under it.
      const process = spans.find((s) => s.service === 'zoom-pipeline-uploader' && s.name === `process ${TOPICS.files}`);
      expect(process?.parentSpanId).toBe(dedupSpan?.spanId);
      expect(process?.attributes['zoom.file_id']).toBe(file.fileId);
      const download = spans.find((s) => s.service === 'zoom-pipeline-uploader' && s.name === 'GET');
      expect(download?.parentSpanId).toBe(process?.spanId);
      expect(download?.attributes['server.address']).toBe(new URL(dl.url).hostname);
      expect(download?.attributes['zoom.file_id']).toBe(file.fileId);
      const put = spans.find((s) => s.attributes['rpc.method'] === 'PutObject');
      expect(put?.attributes['aws.s3.key']).toBe(decodeUploadResult(stored.value).key);

      // The chain from the S3 span up reaches Zoom's span without leaving the trace.
      const chain: string[] = [];
      for (let s = put; s; s = byId.get(s.parentSpanId)) chain.push(`${s.service}:${s.name}`);
      expect(chain[0]).toBe('zoom-pipeline-uploader:s3.put');
      expect(chain).toContain(`zoom-pipeline-uploader:process ${TOPICS.files}`);
      expect(chain).toContain(`zoom-pipeline-dedup:process ${TOPICS.raw}`);
      expect(chain).toContain(`zoom-pipeline-ingress:publish ${TOPICS.raw}`);
      expect(byId.get(server?.spanId ?? '')).toBeDefined();
      expect(chain.at(-1)).toBe(`zoom-pipeline-ingress:${server?.name}`);

      // Log lines written inside those spans carry their ids.
      const logged = uploader
        .output()
        .split('\n')
        .filter((l) => l.includes('"recording file stored"'))
        .map((l) => JSON.parse(l) as { trace_id?: string; span_id?: string });
      expect(logged.some((l) => l.trace_id === traceId && typeof l.span_id === 'string')).toBe(true);
    },
  );

  it(
    'no span attribute, exported body, log line or /metrics text contains the ' +
      'webhook secret, a download token or the S3 secret key',
    async () => {
      expect(secrets.length).toBeGreaterThan(1);
      const attributeText = JSON.stringify(receiver.spans().map((s) => s.attributes));
      const exported = receiver.rawBodies().join('\n');
      const metrics = await Promise.all(
        [ingress, dedup, uploader].map(async (a) => (await fetch(`${a.url}/metrics`)).text()),
      );
      const logs = [ingress, dedup, uploader].map((a) => a.output()).join('\n');
      for (const secret of secrets) {
        expect(attributeText).not.toContain(secret);
        expect(exported).not.toContain(secret);
        expect(logs).not.toContain(secret);
        for (const m of metrics) expect(m).not.toContain(secret);
      }
      // No URL query (pre-signed URLs, access_token) in any span attribute.
      for (const s of receiver.spans()) {
        for (const [k, v] of Object.entries(s.attributes)) {
          if (typeof v === 'string' && /^https?:\/\//.test(v)) expect(`${k}=${v}`).not.toMatch(/\?/);
        }
      }
    },
  );

  it('the Grafana dashboard parses and queries only metrics the running apps export', async () => {
    const dashboard = JSON.parse(
      fs.readFileSync(path.join(REPO_ROOT, 'deploy/grafana/zoom-pipeline.json'), 'utf8'),
    ) as { panels?: Array<{ targets?: Array<{ expr?: string }> }> };
    const exprs = (dashboard.panels ?? []).flatMap((p) => (p.targets ?? []).map((t) => t.expr ?? '')).filter(Boolean);
    expect(exprs.length).toBeGreaterThanOrEqual(6);
    const exported = new Set<string>();
    for (const a of [ingress, dedup, uploader]) {
      const text = await (await fetch(`${a.url}/metrics`)).text();
      for (const line of text.split('\n')) {
        const m = /^# (?:TYPE|HELP) (\S+)/.exec(line) ?? /^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]/.exec(line);
        if (!m) continue;
        exported.add(m[1]);
        // A histogram's TYPE line names the family; queries use its series.
        if (line.startsWith('# TYPE') && line.endsWith(' histogram'))
          for (const suffix of ['_bucket', '_sum', '_count']) exported.add(m[1] + suffix);
      }
    }
    const used = new Set(exprs.flatMap(metricNamesIn));
    expect(used.size).toBeGreaterThan(0);
    const unknown = [...used].filter((n) => !exported.has(n));
    expect(unknown).toEqual([]);
  });
});

const PROMQL_WORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'and',
  'or',
  'unless',
  'offset',
  'inf',
  'nan',
]);

/**
 * Metric names in a PromQL expression: identifiers outside label matchers, grouping clauses and ranges, not called as
 * functions.
 */
function metricNamesIn(expr: string): string[] {
  const stripped = expr
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\$\w+/g, ' ')
    .replace(/"[^"]*"/g, ' ');
  const names: string[] = [];
  for (const m of stripped.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*(?=\s*(\()?)/g)) {
    if (m[1] || PROMQL_WORDS.has(m[0].toLowerCase())) continue;
    names.push(m[0]);
  }
  return names;
}
