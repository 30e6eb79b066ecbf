import { randomBytes, randomUUID } from 'node:crypto';
import { zoomBody } from './fixtures';
import { fakeDownloadToken, urlValidation } from './payload-builder';
import { realClock, type SimClock } from './sim-clock';
import { zoomEncryptedToken, zoomSignature } from './zoom-signature';

/** What a webhook body may be given as: an object (sent as compact JSON), or the exact bytes. */
export type WebhookBody = object | string | Buffer;

/** Zoom's retry schedule (docs/ZOOM-FACTS.md §3): 5, 20 and 60 minutes apart, the last ~85 min after the first. */
export const ZOOM_RETRY_DELAYS_MS: readonly number[] = [5 * 60_000, 20 * 60_000, 60 * 60_000];
/** Zoom wants a 2xx within three seconds. */
export const ZOOM_ACK_TIMEOUT_MS = 3_000;
export const ZOOM_USER_AGENT = 'Zoom Marketplace/1.0a';
export const ZOOM_CONTENT_TYPE = 'application/json; charset=utf-8';

export interface ZoomWebhookSenderOptions {
  targetUrl: string;
  /** The app's webhook Secret Token. */
  secret: string;
  /** Drives retry waits and written timestamps; default realClock. */
  clock?: SimClock;
  fetchImpl?: typeof fetch;
  /** Real-time deadline for the 2xx (see SimClock for why it is not simulated). */
  ackTimeoutMs?: number;
  /** Delay of each retry after the previous attempt started; its length is the number of retries. */
  retryDelaysMs?: readonly number[];
  /**
   * Whether a retry carries a fresh timestamp and signature. Zoom does not document it (docs/ZOOM-FACTS.md §10.1),
   * so the receiver must cope with both; default true.
   */
  restampRetries?: boolean;
  /** Whether a retry gets a new `x-zm-request-id` (default) or repeats the first one; also undocumented. */
  retryRequestId?: 'new' | 'same';
  /** Value of the `clientid` header (the app's Client ID); random by default. */
  clientId?: string;
}

export interface SendOptions {
  /** Timestamp (epoch seconds) of the first attempt; default clock.now(). Restamped retries add the elapsed time. */
  timestampSec?: number;
  /** Extra or replacement headers (names are lower-cased), applied last: they can override the signature. */
  headers?: Record<string, string>;
  /** A fixed W3C traceparent for every attempt; default `00-<random trace>-<new span per attempt>-02`. */
  traceparent?: string;
  /**
   * Sends this many simultaneous copies (see sendCopies); the outcome of copy 0 is returned, the others in `siblings`.
   */
  copies?: number;
  /** Body of copy i (all i, 0 included), replacing the default token/URL variation. */
  copyVariants?: (i: number) => WebhookBody;
  /**
   * download_token of copy i ≥ 1 (e.g. one minted by DownloadServer.issueDownloadToken); default a fresh fake token.
   */
  downloadTokenForCopy?: (i: number) => string;
  /** Stops the retry schedule (the current attempt is aborted too). */
  signal?: AbortSignal;
}

export type AttemptResult = number | 'timeout' | 'network' | 'cancelled';

export interface DeliveryAttempt {
  /** 0 = first delivery, 1..n = retries. */
  attempt: number;
  /** HTTP status, or why there was none. */
  result: AttemptResult;
  ok: boolean;
  /** clock.now() when the attempt was sent (simulated epoch ms on a FastClock). */
  at: number;
  /** The `x-zm-request-timestamp` sent (epoch seconds). */
  timestampSec: number;
  requestId: string;
  signature: string;
  traceparent: string;
  /** Real milliseconds until the response status (or the failure). */
  latencyMs: number;
  /** First 4 KiB of the response body, when there was one. */
  responseBody?: string;
  /** Error message for 'network' (never contains the secret). */
  error?: string;
}

export interface DeliveryOutcome {
  acked: boolean;
  /** True when every retry failed and Zoom stopped trying. */
  gaveUp: boolean;
  /** True when `signal` stopped the schedule. */
  cancelled: boolean;
  attempts: DeliveryAttempt[];
  /** The exact bytes sent (identical on every attempt). */
  body: Buffer;
  copyIndex: number;
  trackingId: string;
  /** The other copies when send() was called with `copies` > 1. */
  siblings?: DeliveryOutcome[];
}

export interface SenderStats {
  /** Every HTTP attempt, first deliveries and retries. */
  attempts: number;
  /** Deliveries that ended with a 2xx. */
  acked: number;
  /** Attempts that got a non-2xx, a timeout or a network error. */
  failed: number;
  /** Deliveries abandoned after the last retry. */
  gaveUp: number;
}

export interface EndpointValidationResult {
  ok: boolean;
  result: AttemptResult;
  latencyMs: number;
  plainToken: string;
  /** Why ok is false. */
  reason?: string;
}

/** `<8hex>_<4hex>_<4hex>_<4hex>_<12hex>`: a UUID with underscores (docs/ZOOM-FACTS.md §3). */
export function zoomRequestId(): string {
  return randomUUID().replaceAll('-', '_');
}

/** `v=2.0;clid=us02;rid=WEB_<32 hex>`. It identifies an upstream request, not a delivery. */
export function zoomTrackingId(): string {
  return `v=2.0;clid=us02;rid=WEB_${randomBytes(16).toString('hex')}`;
}

/** W3C traceparent with flags 02: random-trace-id set, sampled clear, as Zoom sends it. */
export function zoomTraceparent(traceId: string = randomBytes(16).toString('hex')): string {
  return `00-${traceId}-${randomBytes(8).toString('hex')}-02`;
}

const RESPONSE_KEEP_BYTES = 4096;

/**
 * Copy `i` of a simultaneous duplicate: identical except the top-level `download_token` and the last
 * (opaque) path segment of every download_url, as in the reported case (docs/ZOOM-FACTS.md §3). The first segment
 * after /webhook_download/ is kept so the simulator's download server still finds the file.
 */
export function duplicateCopy(payload: Record<string, unknown>, downloadToken: string): Record<string, unknown> {
  const copy = structuredClone(payload);
  if ('download_token' in copy) copy.download_token = downloadToken;
  const object = (copy.payload as { object?: unknown } | undefined)?.object;
  if (object !== null && typeof object === 'object') {
    for (const listName of ['recording_files', 'participant_audio_files']) {
      const list = (object as Record<string, unknown>)[listName];
      if (!Array.isArray(list)) continue;
      for (const file of list as unknown[]) {
        if (file === null || typeof file !== 'object') continue;
        const f = file as Record<string, unknown>;
        if (typeof f.download_url === 'string') {
          f.download_url = f.download_url.replace(/\/[^/?#]*(?=[?#]|$)/, `/${randomBytes(12).toString('base64url')}`);
        }
      }
    }
  }
  return copy;
}

function asObject(body: WebhookBody): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = Buffer.isBuffer(body) || typeof body === 'string' ? JSON.parse(body.toString()) : body;
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Plays Zoom's webhook delivery: signed POSTs with Zoom's headers, a 3 s ack deadline and the
 * 5/20/60-minute retry schedule.
 */
export class ZoomWebhookSender {
  readonly targetUrl: string;
  readonly ackTimeoutMs: number;
  readonly retryDelaysMs: readonly number[];
  readonly restampRetries: boolean;
  readonly clientId: string;
  private readonly secret: string;
  private readonly clock: SimClock;
  private readonly fetchImpl: typeof fetch;
  private readonly retryRequestId: 'new' | 'same';
  private readonly counters: SenderStats = { attempts: 0, acked: 0, failed: 0, gaveUp: 0 };

  constructor(opts: ZoomWebhookSenderOptions) {
    this.targetUrl = opts.targetUrl;
    this.secret = opts.secret;
    this.clock = opts.clock ?? realClock;
    this.fetchImpl = opts.fetchImpl ?? fetch;
    this.ackTimeoutMs = opts.ackTimeoutMs ?? ZOOM_ACK_TIMEOUT_MS;
    this.retryDelaysMs = opts.retryDelaysMs ?? ZOOM_RETRY_DELAYS_MS;
    this.restampRetries = opts.restampRetries ?? true;
    this.retryRequestId = opts.retryRequestId ?? 'new';
    this.clientId = opts.clientId ?? randomBytes(16).toString('base64url');
  }

  private lost = false;

  stats(): SenderStats {
    return { ...this.counters };
  }

  /**
   * While on, every send() ends as if Zoom had exhausted its retries against a dead endpoint (no request is made,
   * `gaveUp: true`): the gap a reconcile must close, without waiting out the retry span.
   */
  loseDeliveries(on: boolean): void {
    this.lost = on;
  }

  resetStats(): void {
    Object.assign(this.counters, { attempts: 0, acked: 0, failed: 0, gaveUp: 0 });
  }

  /** Delivers one event with retries; resolves when it was acked, given up or cancelled. */
  async send(body: WebhookBody, opts: SendOptions = {}): Promise<DeliveryOutcome> {
    const copies = opts.copies ?? 1;
    if (copies > 1 || opts.copyVariants !== undefined) {
      const [first, ...siblings] = await this.sendCopies(body, copies, opts);
      return { ...first!, siblings };
    }
    return this.deliver(zoomBody(body), opts, 0);
  }

  /**
   * n simultaneous deliveries of one event (Promise.all), each with its own request id, signature and
   * retry schedule. Copy 0 is the body as given; copy i ≥ 1 differs only in download_token and the
   * download URLs (see duplicateCopy), unless `copyVariants` says otherwise.
   */
  async sendCopies(body: WebhookBody, n: number, opts: SendOptions = {}): Promise<DeliveryOutcome[]> {
    if (!Number.isInteger(n) || n < 1) throw new Error('sendCopies: n must be a positive integer');
    const bodies: Buffer[] = [];
    const parsed = opts.copyVariants === undefined ? asObject(body) : undefined;
    for (let i = 0; i < n; i++) {
      if (opts.copyVariants !== undefined) bodies.push(zoomBody(opts.copyVariants(i)));
      else if (i === 0 || parsed === undefined) bodies.push(zoomBody(body));
      else bodies.push(zoomBody(duplicateCopy(parsed, opts.downloadTokenForCopy?.(i) ?? fakeDownloadToken())));
    }
    return Promise.all(bodies.map((b, i) => this.deliver(b, opts, i)));
  }

  /**
   * Zoom's endpoint check (docs/ZOOM-FACTS.md §2): a signed `endpoint.url_validation`; passes on a 200 within the
   * ack timeout whose JSON echoes plainToken with encryptedToken = hex(HMAC(secret, plainToken)).
   */
  async validateEndpoint(opts: { plainToken?: string; timestampSec?: number } = {}): Promise<EndpointValidationResult> {
    const event = urlValidation(opts.plainToken, this.clock.now());
    const plainToken = event.payload.plainToken;
    const body = zoomBody(event);
    const ts = opts.timestampSec ?? Math.floor(this.clock.now() / 1000);
    const headers = this.headers(body, ts, zoomRequestId(), zoomTrackingId(), zoomTraceparent());
    const r = await this.post(headers, body, undefined);
    const base = { result: r.result, latencyMs: r.latencyMs, plainToken };
    if (r.result !== 200) return { ...base, ok: false, reason: `answer was ${r.result}, not 200` };
    let answer: unknown;
    try {
      answer = JSON.parse(r.responseBody ?? '');
    } catch {
      return { ...base, ok: false, reason: 'answer is not JSON' };
    }
    const a = (answer ?? {}) as { plainToken?: unknown; encryptedToken?: unknown };
    if (a.plainToken !== plainToken) return { ...base, ok: false, reason: 'plainToken not echoed' };
    if (a.encryptedToken !== zoomEncryptedToken(this.secret, plainToken)) {
      return { ...base, ok: false, reason: 'encryptedToken does not match the secret' };
    }
    return { ...base, ok: true };
  }

  private headers(
    body: Buffer,
    timestampSec: number,
    requestId: string,
    trackingId: string,
    traceparent: string,
  ): Record<string, string> {
    return {
      'content-type': ZOOM_CONTENT_TYPE,
      'user-agent': ZOOM_USER_AGENT,
      'x-zm-request-timestamp': String(timestampSec),
      'x-zm-signature': zoomSignature(this.secret, timestampSec, body),
      'x-zm-request-id': requestId,
      'x-zm-trackingid': trackingId,
      traceparent,
      'zm-trace-upstream': 'Meeting_Web_marketplace-consumer',
      clientid: this.clientId,
    };
  }

  private async deliver(body: Buffer, opts: SendOptions, copyIndex: number): Promise<DeliveryOutcome> {
    const startedAt = this.clock.now();
    const firstTs = opts.timestampSec ?? Math.floor(startedAt / 1000);
    // One upstream request per event: the tracking id and the trace id stay the same across retries.
    const trackingId = zoomTrackingId();
    const traceId = randomBytes(16).toString('hex');
    const firstRequestId = zoomRequestId();
    const extra = Object.fromEntries(Object.entries(opts.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
    const attempts: DeliveryAttempt[] = [];
    const outcome = (acked: boolean, gaveUp: boolean, cancelled: boolean): DeliveryOutcome => ({
      acked,
      gaveUp,
      cancelled,
      attempts,
      body,
      copyIndex,
      trackingId,
    });

    if (this.lost) {
      this.counters.gaveUp++;
      return outcome(false, true, false);
    }
    for (let attempt = 0; ; attempt++) {
      // Attempt 0 reuses startedAt: on a FastClock even the few µs in between are seconds of simulated time.
      const at = attempt === 0 ? startedAt : this.clock.now();
      let timestampSec = firstTs;
      if (attempt > 0 && this.restampRetries) {
        timestampSec =
          opts.timestampSec === undefined ? Math.floor(at / 1000) : firstTs + Math.floor((at - startedAt) / 1000);
      }
      const requestId = attempt > 0 && this.retryRequestId === 'new' ? zoomRequestId() : firstRequestId;
      const traceparent = opts.traceparent ?? zoomTraceparent(traceId);
      const headers = { ...this.headers(body, timestampSec, requestId, trackingId, traceparent), ...extra };
      const r = await this.post(headers, body, opts.signal);
      attempts.push({
        attempt,
        at,
        timestampSec,
        requestId: headers['x-zm-request-id']!,
        signature: headers['x-zm-signature']!,
        traceparent: headers.traceparent!,
        ...r,
      });
      if (r.result === 'cancelled') return outcome(false, false, true);
      this.counters.attempts++;
      if (r.ok) {
        this.counters.acked++;
        return outcome(true, false, false);
      }
      this.counters.failed++;
      if (attempt >= this.retryDelaysMs.length) {
        this.counters.gaveUp++;
        return outcome(false, true, false);
      }
      // The schedule counts from the start of the previous attempt, not from its failure (a 3 s timeout
      // must not push every retry 3 s later).
      await this.clock.sleep(Math.max(0, at + this.retryDelaysMs[attempt]! - this.clock.now()), opts.signal);
      if (opts.signal?.aborted === true) return outcome(false, false, true);
    }
  }

  private async post(
    headers: Record<string, string>,
    body: Buffer,
    signal: AbortSignal | undefined,
  ): Promise<Pick<DeliveryAttempt, 'result' | 'ok' | 'latencyMs' | 'responseBody' | 'error'>> {
    // A function, not a property read, so TS does not keep the narrowing from the first check.
    const cancelled = (): boolean => signal?.aborted === true;
    if (cancelled()) return { result: 'cancelled', ok: false, latencyMs: 0 };
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), this.ackTimeoutMs);
    const onCancel = (): void => deadline.abort();
    signal?.addEventListener('abort', onCancel, { once: true });
    const t0 = performance.now();
    try {
      // Zoom does not follow redirects as far as anyone knows: a 3xx is just a non-2xx answer.
      const res = await this.fetchImpl(this.targetUrl, {
        method: 'POST',
        headers,
        body,
        signal: deadline.signal,
        redirect: 'manual',
      });
      const latencyMs = performance.now() - t0;
      let responseBody: string | undefined;
      try {
        // Read within the same deadline so a stalled body does not keep the socket busy.
        responseBody = (await res.text()).slice(0, RESPONSE_KEEP_BYTES);
      } catch {
        responseBody = undefined;
      }
      return { result: res.status, ok: res.status >= 200 && res.status < 300, latencyMs, responseBody };
    } catch (err) {
      const latencyMs = performance.now() - t0;
      if (cancelled()) return { result: 'cancelled', ok: false, latencyMs };
      if (deadline.signal.aborted) return { result: 'timeout', ok: false, latencyMs };
      return { result: 'network', ok: false, latencyMs, error: describeError(err) };
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onCancel);
    }
  }
}

function describeError(err: unknown): string {
  // Duck-typed rather than instanceof: fetch's errors come from another realm under jest.
  const e = err as { message?: unknown; cause?: { code?: unknown; message?: unknown } } | null;
  const message = typeof e?.message === 'string' ? e.message : String(err);
  const detail = e?.cause?.code ?? e?.cause?.message;
  return detail === undefined ? message : `${message} (${String(detail)})`;
}
