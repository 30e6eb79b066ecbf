import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { throttledProgress } from './cli-io';
import { parsePrometheusText } from './prometheus-text.parser';
import { type CommandContext, defaultBaseUrl, positiveInt } from './command-context';
import { type Readiness, type StatusSummary, formatSummary, summariseMetrics } from './status-summary';
import { listRecentObjects } from './stored-objects';
import { UsageError } from './usage-error';

export const STATUS_USAGE = `usage: zoom-pipeline status [options]

Reads /readyz and /metrics and summarises: readiness per dependency, deliveries accepted and refused
by reason, canonical events, duplicates suppressed, files uploaded / already stored / failed by reason,
bytes stored and uploads in flight. With a data directory, also lists the newest stored objects.

options:
  --url URL          service base URL (default http://127.0.0.1:\${PORT:-8080})
  --data-dir DIR     DATA_DIR of a standalone run: list the newest objects of DIR/objects
                     (default: ./data when ./data/objects exists)
  --limit N          how many objects to list (default 10)
  --timeout MS       per-request timeout (default 5000)
  --json             the summary as JSON
  -h, --help         this text

Exit code 0 when the service is ready, 1 when it is not ready or unreachable, 2 on usage errors.`;

const DEFAULT_TIMEOUT_MS = 5_000;

export async function statusCommand(args: string[], ctx: CommandContext): Promise<number> {
  const { values } = parseArgs({
    args,
    allowPositionals: false,
    strict: true,
    options: {
      url: { type: 'string' },
      'data-dir': { type: 'string' },
      limit: { type: 'string' },
      timeout: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    ctx.io.out(STATUS_USAGE);
    return 0;
  }
  const base = serviceBase(values.url ?? defaultBaseUrl(ctx.env));
  const timeoutMs = positiveInt(values.timeout, 'timeout', DEFAULT_TIMEOUT_MS);
  const limit = positiveInt(values.limit, 'limit', 10, 1_000);
  const fetchImpl = ctx.fetchImpl ?? fetch;

  const [readiness, metrics] = await Promise.all([
    readReadiness(base, timeoutMs, fetchImpl),
    readMetrics(base, timeoutMs, fetchImpl),
  ]);
  const summary: StatusSummary = { url: base.origin + base.pathname.replace(/\/$/, ''), readiness };
  if (typeof metrics === 'string') Object.assign(summary, summariseMetrics(parsePrometheusText(metrics)));
  else summary.metricsError = metrics.error;

  const objectsDir = objectsDirectory(values['data-dir'], ctx.cwd);
  if (objectsDir !== undefined) {
    if (existsSync(objectsDir) && statSync(objectsDir).isDirectory()) {
      const progress = throttledProgress(ctx.io);
      try {
        summary.objects = await listRecentObjects(objectsDir, limit, (scanned) =>
          progress(`scanned ${scanned} objects`),
        );
      } catch (err) {
        summary.objectsError = `cannot list ${objectsDir}: ${(err as Error).message}`;
      } finally {
        ctx.io.progress(undefined);
      }
    } else {
      summary.objectsError = `no objects directory at ${objectsDir} (objects go to S3 when S3_BUCKET is set)`;
    }
  }

  if (values.json === true) ctx.io.out(JSON.stringify(summary, null, 2));
  else for (const line of formatSummary(summary)) ctx.io.out(line);
  return readiness.ready ? 0 : 1;
}

/** The service base: a pasted webhook URL (…/webhooks/zoom[/app]) is cut back to where /readyz lives. */
function serviceBase(value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`--url is not a URL: ${JSON.stringify(value)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new UsageError(`--url must be http(s), got ${url.protocol}`);
  url.pathname = url.pathname.replace(/\/webhooks\/zoom(\/[^/]*)?\/?$/, '').replace(/\/?$/, '/');
  url.search = '';
  url.hash = '';
  return url;
}

/** `<dir>/objects` (the standalone layout, libs/config), from --data-dir or ./data when it holds objects. */
function objectsDirectory(dataDir: string | undefined, cwd: string): string | undefined {
  if (dataDir !== undefined) return path.join(path.resolve(cwd, dataDir), 'objects');
  const fallback = path.join(cwd, 'data', 'objects');
  return existsSync(fallback) ? fallback : undefined;
}

async function readReadiness(base: URL, timeoutMs: number, fetchImpl: typeof fetch): Promise<Readiness> {
  try {
    const res = await fetchImpl(new URL('readyz', base), {
      signal: AbortSignal.timeout(timeoutMs),
      redirect: 'manual',
    });
    const text = await res.text();
    let body: { status?: unknown; error?: unknown; checks?: unknown; message?: unknown } = {};
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      return {
        reachable: true,
        ready: false,
        status: 'unknown',
        checks: {},
        error: `/readyz answered ${res.status} with a non-JSON body`,
      };
    }
    const checks: Record<string, boolean> = {};
    if (body.checks !== null && typeof body.checks === 'object') {
      for (const [k, v] of Object.entries(body.checks as Record<string, unknown>)) checks[k] = v === true;
    }
    const ready = res.status === 200;
    // 200 {status:"ready"}; 503 {error:"not_ready"|"draining", message} (libs/service-kit health.ts).
    const status =
      typeof body.status === 'string'
        ? body.status
        : typeof body.error === 'string'
          ? body.error
          : ready
            ? 'ready'
            : `http ${res.status}`;
    return {
      reachable: true,
      ready,
      status,
      checks,
      ...(ready || typeof body.message !== 'string' ? {} : { error: body.message }),
    };
  } catch (err) {
    return {
      reachable: false,
      ready: false,
      status: 'unreachable',
      checks: {},
      error: describeFetchError(err, timeoutMs),
    };
  }
}

async function readMetrics(base: URL, timeoutMs: number, fetchImpl: typeof fetch): Promise<string | { error: string }> {
  try {
    const res = await fetchImpl(new URL('metrics', base), {
      signal: AbortSignal.timeout(timeoutMs),
      redirect: 'manual',
    });
    const text = await res.text();
    return res.status === 200 ? text : { error: `/metrics answered ${res.status}` };
  } catch (err) {
    return { error: describeFetchError(err, timeoutMs) };
  }
}

function describeFetchError(err: unknown, timeoutMs: number): string {
  const e = err as { name?: unknown; message?: unknown; cause?: { code?: unknown; message?: unknown } } | null;
  if (e?.name === 'TimeoutError') return `no answer within ${timeoutMs} ms`;
  const code = e?.cause?.code;
  if (typeof code === 'string') return code;
  return typeof e?.message === 'string' ? e.message : String(err);
}
