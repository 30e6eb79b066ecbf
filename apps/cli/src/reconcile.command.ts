import type { ReconcileRun } from '@zoom-pipeline/reconcile-feature';
import { parseArgs } from 'node:util';
import { throttledProgress } from './cli-io';
import { type CommandContext, defaultBaseUrl, positiveInt } from './command-context';
import { UsageError } from './usage-error';

export const BACKFILL_USAGE = `usage: zoom-pipeline backfill --from YYYY-MM-DD --to YYYY-MM-DD [options]

Lists Zoom's cloud recordings in the range (UTC days, split into windows of at most 30 days) and queues every file
that is not stored yet, through the same work items as the webhooks (a file is never stored twice). Needs the
service's Server-to-Server OAuth credentials. Shows progress, then a summary table.

options:
  --from DAY        first day (inclusive)
  --to DAY          last day (inclusive; default today)
  --user ID         list this user's recordings (repeatable; default: the whole account)
  --dry-run         list and compare only; queue nothing
  --url URL         the service: standalone, or the reconciler in cluster mode (default http://127.0.0.1:\${PORT:-8080})
  --json            the summary as JSON
  -h, --help        this text

The service answers loopback clients; from elsewhere set RECONCILE_ADMIN_TOKEN (sent as a Bearer token).
Exit code 0 when the run finished, 1 when it failed or another run holds the lease, 2 on usage errors.`;

export const REDRIVE_USAGE = `usage: zoom-pipeline redrive [options]

Re-queues dead-lettered files from zoom.recording.failed once their cause is fixed (each file once, with its latest
failure; files stored since are skipped).

options:
  --reason R        only failures with this reason (e.g. download_unauthorized)
  --meeting UUID    only files of this meeting instance
  --dry-run         count only; queue nothing
  --url URL         the service: standalone, or the reconciler in cluster mode (default http://127.0.0.1:\${PORT:-8080})
  --timeout MS      request timeout (default 120000)
  --json            the summary as JSON
  -h, --help        this text`;

const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** What the reconciler answers for a run (the service's own type: the CLI reads exactly what it writes). */
type Run = Pick<
  ReconcileRun,
  | 'runId'
  | 'status'
  | 'from'
  | 'to'
  | 'windows'
  | 'pages'
  | 'meetingsListed'
  | 'filesFound'
  | 'alreadyStored'
  | 'missing'
  | 'queued'
  | 'queuedBytes'
  | 'inFlight'
  | 'notReady'
  | 'filtered'
  | 'unfetchable'
  | 'apiRequests'
  | 'dryRun'
  | 'startedAt'
  | 'finishedAt'
  | 'error'
>;

export async function backfillCommand(args: string[], ctx: CommandContext): Promise<number> {
  const { values } = parseArgs({
    args,
    allowPositionals: false,
    strict: true,
    options: {
      from: { type: 'string' },
      to: { type: 'string' },
      user: { type: 'string', multiple: true },
      'dry-run': { type: 'boolean' },
      url: { type: 'string' },
      json: { type: 'boolean' },
      'poll-ms': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    ctx.io.out(BACKFILL_USAGE);
    return 0;
  }
  if (values.from === undefined) throw new UsageError('--from is required');
  for (const [name, v] of [
    ['from', values.from],
    ['to', values.to],
  ] as const) {
    if (v !== undefined && (!DAY.test(v) || Number.isNaN(Date.parse(`${v}T00:00:00Z`))))
      throw new UsageError(`--${name} must be a day YYYY-MM-DD, got ${JSON.stringify(v)}`);
  }
  const base = baseUrl(values.url, ctx);
  const pollMs = positiveInt(values['poll-ms'], 'poll-ms', 500, 60_000);
  const fetchImpl = ctx.fetchImpl ?? fetch;
  const body = { from: values.from, to: values.to, users: values.user, dryRun: values['dry-run'] === true };
  const token = ctx.env.RECONCILE_ADMIN_TOKEN;
  const started = await call(fetchImpl, new URL('reconcile/runs', base), 'POST', body, 30_000, token);
  if (started.status === 409) {
    ctx.io.err(
      `zoom-pipeline backfill: ${String(started.json.message ?? 'another reconcile run is in progress')}; try ` +
        'again when it has finished',
    );
    return 1;
  }
  if (started.status !== 202 && started.status !== 200)
    throw new Error(
      `the service refused the backfill (${started.status} ${String(started.json.error ?? '')}: ` +
        `${String(started.json.message ?? '')})`,
    );
  let run = started.json as unknown as Run;
  const progress = throttledProgress(ctx.io, 200);
  while (run.status === 'running') {
    progress(progressLine(run));
    await new Promise((resolve) => setTimeout(resolve, pollMs));
    const next = await call(
      fetchImpl,
      new URL(`reconcile/runs/${encodeURIComponent(run.runId)}`, base),
      'GET',
      undefined,
      30_000,
      token,
    );
    if (next.status !== 200) throw new Error(`lost track of run ${run.runId} (${next.status}): the service restarted?`);
    run = next.json as unknown as Run;
  }
  ctx.io.progress(undefined);
  if (values.json === true) ctx.io.out(JSON.stringify(run, null, 2));
  else for (const line of runTable(run)) ctx.io.out(line);
  if (run.status === 'failed') {
    ctx.io.err(`zoom-pipeline backfill: the run failed: ${run.error ?? 'see the service log'}`);
    return 1;
  }
  return 0;
}

export async function redriveCommand(args: string[], ctx: CommandContext): Promise<number> {
  const { values } = parseArgs({
    args,
    allowPositionals: false,
    strict: true,
    options: {
      reason: { type: 'string' },
      meeting: { type: 'string' },
      'dry-run': { type: 'boolean' },
      url: { type: 'string' },
      timeout: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    ctx.io.out(REDRIVE_USAGE);
    return 0;
  }
  const base = baseUrl(values.url, ctx);
  const timeoutMs = positiveInt(values.timeout, 'timeout', 120_000);
  ctx.io.progress('reading zoom.recording.failed…');
  const res = await call(
    ctx.fetchImpl ?? fetch,
    new URL('reconcile/redrives', base),
    'POST',
    { reason: values.reason, meetingUuid: values.meeting, dryRun: values['dry-run'] === true },
    timeoutMs,
    ctx.env.RECONCILE_ADMIN_TOKEN,
  );
  ctx.io.progress(undefined);
  if (res.status !== 200) {
    ctx.io.err(
      `zoom-pipeline redrive: ${res.status} ${String(res.json.error ?? '')}: ${String(res.json.message ?? '')}`,
    );
    return 1;
  }
  const s = res.json as {
    scanned: number;
    files: number;
    matched: number;
    alreadyStored: number;
    notRedrivable: number;
    queued: number;
    dryRun: boolean;
    byReason: Record<string, number>;
  };
  if (values.json === true) {
    ctx.io.out(JSON.stringify(s, null, 2));
    return 0;
  }
  const rows: Array<[string, string]> = [
    ['dead letters read', n(s.scanned)],
    ['distinct files', n(s.files)],
    ['matching', n(s.matched)],
    ['stored since', n(s.alreadyStored)],
    ['not redrivable', n(s.notRedrivable)],
    [
      s.dryRun ? 'would queue' : 'queued',
      n(s.dryRun ? Object.values(s.byReason).reduce((a, b) => a + b, 0) : s.queued),
    ],
    ...Object.entries(s.byReason).map(([reason, k]): [string, string] => [`  ${reason}`, n(k)]),
  ];
  for (const line of table(rows)) ctx.io.out(line);
  return 0;
}

function baseUrl(value: string | undefined, ctx: CommandContext): URL {
  let url: URL;
  try {
    url = new URL(value ?? defaultBaseUrl(ctx.env));
  } catch {
    throw new UsageError(`--url is not a URL: ${JSON.stringify(value)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new UsageError(`--url must be http(s), got ${url.protocol}`);
  url.pathname = url.pathname.replace(/\/?$/, '/');
  return url;
}

async function call(
  fetchImpl: typeof fetch,
  url: URL,
  method: string,
  body: unknown,
  timeoutMs: number,
  token?: string,
): Promise<{ status: number; json: Record<string, unknown> }> {
  let res: Response;
  const headers: Record<string, string> = body === undefined ? {} : { 'content-type': 'application/json' };
  if (token !== undefined && token !== '') headers.authorization = `Bearer ${token}`;
  try {
    res = await fetchImpl(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: unknown } }).cause?.code;
    throw new Error(
      `cannot reach ${url.origin} (${typeof cause === 'string' ? cause : (err as Error).message}); is the ` +
        'service (or, in cluster mode, the reconciler) running?',
      { cause: err },
    );
  }
  const text = await res.text();
  try {
    return { status: res.status, json: JSON.parse(text) as Record<string, unknown> };
  } catch {
    return {
      status: res.status,
      json: { error: 'not_json', message: `${url.pathname} answered ${res.status} with a non-JSON body` },
    };
  }
}

function progressLine(r: Run): string {
  return (
    `listing ${r.from}..${r.to}: ${n(r.meetingsListed)} meetings, ${n(r.filesFound)} files found, ` +
    `${n(r.alreadyStored)} already stored, ${n(r.queued)} queued (${bytes(r.queuedBytes)})`
  );
}

export function runTable(r: Run): string[] {
  const rows: Array<[string, string]> = [
    ['range', `${r.from} .. ${r.to}${r.dryRun ? ' (dry run)' : ''}`],
    ['status', r.status],
    ['windows / pages', `${n(r.windows)} / ${n(r.pages)} (${n(r.apiRequests)} API requests)`],
    ['meetings listed', n(r.meetingsListed)],
    ['files found', n(r.filesFound)],
    ['already stored', n(r.alreadyStored)],
    ['missing', n(r.missing)],
    [r.dryRun ? 'would queue' : 'queued', r.dryRun ? n(r.missing) : `${n(r.queued)} (${bytes(r.queuedBytes)})`],
  ];
  if (r.inFlight > 0) rows.push(['already queued', n(r.inFlight)]);
  if (r.notReady > 0) rows.push(['still processing at Zoom', n(r.notReady)]);
  if (r.filtered > 0) rows.push(['not selected (UPLOAD_FILE_TYPES)', n(r.filtered)]);
  if (r.unfetchable > 0) rows.push(['no download_url', n(r.unfetchable)]);
  if (r.finishedAt !== undefined)
    rows.push(['took', `${((Date.parse(r.finishedAt) - Date.parse(r.startedAt)) / 1000).toFixed(1)} s`]);
  return table(rows);
}

function table(rows: Array<[string, string]>): string[] {
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`);
}

function n(x: number): string {
  return x.toLocaleString('en-US');
}

function bytes(x: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = x;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u += 1;
  }
  return u === 0 ? `${x} B` : `${v.toFixed(1)} ${units[u]}`;
}
