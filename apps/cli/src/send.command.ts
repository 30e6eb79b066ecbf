import { randomBytes, randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { signDelivery } from '@zoom-pipeline/zoom-webhook';
import { throttledProgress } from './cli-io';
import { type CommandContext, defaultBaseUrl, positiveInt } from './command-context';
import {
  type JsonObject,
  duplicateCopy,
  fakeDownloadToken,
  loadBodyText,
  parseAssignment,
  parseBody,
  prepareBody,
} from './delivery-body';
import { UsageError } from './usage-error';

export const SEND_USAGE = `usage: zoom-pipeline send <fixture | file.json | -> [options]

Loads a Zoom webhook body (a fixture name from test/zoom-sim/fixtures such as recording.completed,
a JSON file, or - for stdin), gives it a fresh event_ts and meeting instance UUID (so every send is a
new occurrence, not a duplicate), signs it as Zoom does and POSTs it.

options:
  --url URL             endpoint (default http://127.0.0.1:\${PORT:-8080}/webhooks/zoom)
  --secret S            Secret Token (default: the first of $ZOOM_WEBHOOK_SECRET_TOKEN, or of
                        $ZOOM_WEBHOOK_SECRET_TOKEN_<APP> for a URL ending in /webhooks/zoom/<app>)
  --copies N            N simultaneous copies that differ only in download_token and download URLs,
                        like Zoom's duplicates (default 1)
  --download-base URL   rewrite every download_url to URL/rec/webhook_download/<file id>/<random>
                        (e.g. zoom-sim's serve-downloads origin)
  --token T[,T2,...]    download_token; copy i gets the i-th token, further copies a fresh fake one
  --set PATH=VALUE      set a field last, e.g. payload.object.topic=Demo or
                        payload.object.recording_files[0].file_size=1024 (VALUE is JSON when it
                        parses, else a string); repeatable
  --keep-ids            keep the body's meeting UUID: repeat the same occurrence (dedup suppresses it)
  --timeout MS          per-request timeout (default 10000)
  --json                one JSON object per copy instead of text
  -h, --help            this text

Prints one line per copy: status, latency and the answer (never the secret or the signature).
Exit code 0 when every copy got a 2xx, 1 otherwise, 2 on usage errors.`;

const DEFAULT_TIMEOUT_MS = 10_000;
const MAX_COPIES = 10_000;
const ANSWER_KEEP_CHARS = 2_000;
/** Shorter secrets are not redacted from answers: replacing every "a" would mangle the line, not protect anything. */
const MIN_REDACTED_SECRET_LENGTH = 6;

export interface CopyResult {
  copy: number;
  /** HTTP status, absent when no answer came. */
  status?: number;
  ok: boolean;
  latencyMs: number;
  /** The `error` code of a JSON error answer, or the network failure (ECONNREFUSED, timeout...). */
  code?: string;
  /** The answer, parsed when it is JSON. */
  answer?: unknown;
  /** Network failure description. */
  error?: string;
  requestId: string;
}

function parseHttpUrl(value: string, name: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`--${name} is not a URL: ${JSON.stringify(value)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new UsageError(`--${name} must be http(s), got ${url.protocol}`);
  return url;
}

/**
 * The secret to sign with: --secret, else the env var the server reads for this URL (per-app secrets serve
 * /webhooks/zoom/<app>), first of the comma list as the server tries the current secret first.
 */
export function resolveSecret(explicit: string | undefined, url: URL, env: NodeJS.ProcessEnv): string {
  if (explicit !== undefined) {
    if (explicit === '') throw new UsageError('--secret must not be empty');
    return explicit;
  }
  const app = /\/webhooks\/zoom\/([^/]+)\/?$/.exec(url.pathname)?.[1];
  const names =
    app === undefined ? [] : [`ZOOM_WEBHOOK_SECRET_TOKEN_${decodeURIComponent(app).toUpperCase().replace(/-/g, '_')}`];
  names.push('ZOOM_WEBHOOK_SECRET_TOKEN');
  for (const name of names) {
    const first = env[name]
      ?.split(',')
      .map((s) => s.trim())
      .find((s) => s !== '');
    if (first !== undefined) return first;
  }
  throw new UsageError(`no secret: pass --secret or set ${names.join(' or ')}`);
}

/** W3C traceparent as Zoom sends it: flags 02, the random-trace-id bit set and the sampled bit clear. */
function zoomTraceparent(): string {
  return `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-02`;
}

export async function sendCommand(args: string[], ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: {
      url: { type: 'string' },
      secret: { type: 'string' },
      copies: { type: 'string' },
      'download-base': { type: 'string' },
      token: { type: 'string' },
      set: { type: 'string', multiple: true },
      'keep-ids': { type: 'boolean' },
      timeout: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    ctx.io.out(SEND_USAGE);
    return 0;
  }
  if (positionals.length !== 1) {
    throw new UsageError(
      positionals.length === 0
        ? 'send needs a fixture name or a file'
        : `send takes one body, got ${positionals.length}: ${positionals.join(' ')}`,
    );
  }
  const url = parseHttpUrl(values.url ?? `${defaultBaseUrl(ctx.env)}/webhooks/zoom`, 'url');
  const secret = resolveSecret(values.secret, url, ctx.env);
  const copies = positiveInt(values.copies, 'copies', 1, MAX_COPIES);
  const timeoutMs = positiveInt(values.timeout, 'timeout', DEFAULT_TIMEOUT_MS);
  const downloadBase =
    values['download-base'] === undefined
      ? undefined
      : parseHttpUrl(values['download-base'], 'download-base').toString();
  const tokens = values.token === undefined ? [] : values.token.split(',').map((t) => t.trim());
  if (tokens.some((t) => t === '')) throw new UsageError('--token must not contain empty tokens');
  const assignments = (values.set ?? []).map(parseAssignment);

  const { text, from } = await loadBodyText(positionals[0]!, ctx);
  const first = prepareBody(parseBody(text, from), {
    nowMs: Date.now(),
    keepIds: values['keep-ids'] === true,
    downloadBase,
    downloadToken: tokens[0],
    assignments,
  });
  const bodies: JsonObject[] = [first];
  for (let i = 1; i < copies; i++) bodies.push(duplicateCopy(first, tokens[i] ?? fakeDownloadToken()));

  const results = await deliverAll(url, secret, bodies, timeoutMs, ctx);
  for (const r of results) ctx.io.out(values.json === true ? JSON.stringify(r) : formatResult(r, copies));
  return results.every((r) => r.ok) ? 0 : 1;
}

/** Sends every body at the same moment, as Zoom's simultaneous duplicates arrive; results in copy order. */
async function deliverAll(
  url: URL,
  secret: string,
  bodies: JsonObject[],
  timeoutMs: number,
  ctx: CommandContext,
): Promise<CopyResult[]> {
  // Serialise and sign everything first, so the requests leave as close together as possible.
  const requests = bodies.map((b, copy) => {
    const body = JSON.stringify(b);
    const timestamp = String(Math.floor(Date.now() / 1000));
    const signature = signDelivery(secret, timestamp, body);
    const requestId = randomUUID().replaceAll('-', '_');
    const headers: Record<string, string> = {
      'content-type': 'application/json; charset=utf-8',
      'x-zm-request-timestamp': timestamp,
      'x-zm-signature': signature,
      'x-zm-request-id': requestId,
      'x-zm-trackingid': `v=2.0;clid=us02;rid=WEB_${randomBytes(16).toString('hex')}`,
      traceparent: zoomTraceparent(),
      'user-agent': 'zoom-pipeline-cli',
    };
    return { copy, body: Buffer.from(body, 'utf8'), headers, requestId, redact: redactor(secret, signature) };
  });
  const progress = throttledProgress(ctx.io);
  let done = 0;
  const total = requests.length;
  if (total > 1) progress(`sent 0/${total}`, true);
  const results = await Promise.all(
    requests.map(async (r) => {
      const result = await deliver(url, r, timeoutMs, ctx.fetchImpl ?? fetch);
      done++;
      if (total > 1) progress(`sent ${done}/${total}`, done === total);
      return result;
    }),
  );
  if (total > 1) ctx.io.progress(undefined);
  return results;
}

interface PreparedRequest {
  copy: number;
  body: Buffer;
  headers: Record<string, string>;
  requestId: string;
  redact: (text: string) => string;
}

async function deliver(
  url: URL,
  req: PreparedRequest,
  timeoutMs: number,
  fetchImpl: typeof fetch,
): Promise<CopyResult> {
  const t0 = performance.now();
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    // Redirects are answers, not detours: Zoom does not follow them either.
    const res = await fetchImpl(url, {
      method: 'POST',
      headers: req.headers,
      body: req.body,
      redirect: 'manual',
      signal,
    });
    const text = req.redact(await res.text());
    const latencyMs = round(performance.now() - t0);
    const answer = parseAnswer(text);
    const code =
      answer !== null && typeof answer === 'object' && typeof (answer as { error?: unknown }).error === 'string'
        ? (answer as { error: string }).error
        : undefined;
    const ok = res.status >= 200 && res.status < 300;
    return {
      copy: req.copy,
      status: res.status,
      ok,
      latencyMs,
      ...(code === undefined ? {} : { code }),
      answer,
      requestId: req.requestId,
    };
  } catch (err) {
    const latencyMs = round(performance.now() - t0);
    const timedOut = signal.aborted;
    return {
      copy: req.copy,
      ok: false,
      latencyMs,
      code: timedOut ? 'timeout' : networkCode(err),
      error: req.redact(timedOut ? `no answer within ${timeoutMs} ms` : describeError(err)),
      requestId: req.requestId,
    };
  }
}

function parseAnswer(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text.length > ANSWER_KEEP_CHARS ? `${text.slice(0, ANSWER_KEEP_CHARS)}…` : text;
  }
}

function redactor(secret: string, signature: string): (text: string) => string {
  return (text) => {
    let out = text.replaceAll(signature, '[signature]');
    if (secret.length >= MIN_REDACTED_SECRET_LENGTH) out = out.replaceAll(secret, '[secret]');
    return out;
  };
}

function networkCode(err: unknown): string {
  // Duck-typed: fetch's errors come from another realm under jest, so instanceof is unreliable.
  const e = err as { code?: unknown; cause?: { code?: unknown } } | null;
  const code = e?.cause?.code ?? e?.code;
  return typeof code === 'string' ? code : 'network';
}

function describeError(err: unknown): string {
  const e = err as { message?: unknown; cause?: { message?: unknown } } | null;
  const message = typeof e?.message === 'string' ? e.message : String(err);
  const cause = typeof e?.cause?.message === 'string' ? e.cause.message : undefined;
  return cause === undefined || cause === message ? message : `${message}: ${cause}`;
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}

/** `[1/2] 200 4.1 ms {"status":"accepted",...}`, or `[2/2] 401 signature_mismatch 3.0 ms {...}` for a refusal. */
export function formatResult(r: CopyResult, total: number): string {
  const head = `[${r.copy + 1}/${total}]`;
  if (r.status === undefined) return `${head} ERR ${r.code ?? 'network'} ${r.latencyMs} ms ${oneLine(r.error ?? '')}`;
  const code = !r.ok && r.code !== undefined ? ` ${r.code}` : '';
  const answer =
    r.answer === undefined ? '' : ` ${typeof r.answer === 'string' ? oneLine(r.answer) : JSON.stringify(r.answer)}`;
  return `${head} ${r.status}${code} ${r.latencyMs} ms${answer}`;
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}
