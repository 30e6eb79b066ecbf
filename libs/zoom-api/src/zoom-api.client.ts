import { ATTR, SpanKind, inSpan } from '@zoom-pipeline/telemetry';
import { Counter, Histogram, type Registry } from 'prom-client';
import { type DayWindow, type IsoDay, splitIntoWindows } from './date-windows';
import { RequestBudget } from './request-budget';
import { ZoomApiError } from './zoom-api-error';

export const DEFAULT_ZOOM_API_URL = 'https://api.zoom.us/v2';
/** Zoom's largest page for the recordings listings (docs/ZOOM-FACTS.md §5). */
export const MAX_PAGE_SIZE = 300;

/** The process's S2S token cache (zoom-download's S2STokenProvider, shared with the downloader). */
export interface AccessTokenSource {
  getToken(): Promise<string>;
  invalidate(rejectedToken?: string): void;
}

export interface ZoomApiClientOptions {
  tokens: AccessTokenSource;
  /** Default https://api.zoom.us/v2; tests point it at zoom-sim. */
  baseUrl?: string;
  /** Requests per second this client may send (all its callers together); default 5. */
  requestsPerSecond?: number;
  /** Tries of one request on 429/5xx/network errors before giving up; default 6. */
  maxAttempts?: number;
  /** Exponential backoff with full jitter for 5xx and network errors; default 500 ms doubling to 30 s. */
  backoff?: { baseMs: number; maxMs: number };
  /**
   * A 429 without Retry-After waits this long; a longer Retry-After is honoured up to maxRetryAfterMs. Default 1 s / 60
   * s.
   */
  defaultRetryAfterMs?: number;
  maxRetryAfterMs?: number;
  timeoutMs?: number;
  registry?: Registry;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/** Whose recordings: one user (`me` for the token's user) or the whole account (`me` for the token's account). */
export type RecordingScope = { kind: 'user'; userId: string } | { kind: 'account'; accountId?: string };

export interface ListRecordingsRequest {
  scope: RecordingScope;
  from: IsoDay;
  to: IsoDay;
  pageSize?: number;
  signal?: AbortSignal;
}

/** One meeting (or webinar) instance of a listing, as Zoom sends it; the fields our file identity reads are typed. */
export interface ZoomRecordingMeeting {
  uuid: string;
  id?: number | string;
  account_id?: string;
  host_id?: string;
  topic?: string;
  start_time?: string;
  recording_files?: Array<Record<string, unknown>>;
  participant_audio_files?: Array<Record<string, unknown>>;
  [field: string]: unknown;
}

export interface RecordingPage {
  window: DayWindow;
  /** 1-based within its window. */
  page: number;
  meetings: ZoomRecordingMeeting[];
  totalRecords?: number;
}

/** `POST /meetings/{meetingId}/registrants`: who to register (Zoom requires email and first name). */
export interface MeetingRegistrantRequest {
  email: string;
  firstName: string;
  lastName?: string;
}

/** Zoom's answer: the registrant and their own join link (Zoom's recommended way to know who joined). */
export interface MeetingRegistrant {
  registrantId: string;
  joinUrl: string;
}

interface ClientMetrics {
  requests: Counter<'endpoint' | 'status'>;
  seconds: Histogram<'endpoint'>;
  rateLimited: Counter<'endpoint'>;
}

const metricsByRegistry = new WeakMap<Registry, ClientMetrics>();

function clientMetrics(registry: Registry | undefined): ClientMetrics | undefined {
  if (registry === undefined) return undefined;
  let m = metricsByRegistry.get(registry);
  if (m === undefined) {
    m = {
      requests: new Counter({
        name: 'zoom_api_requests_total',
        help: 'Zoom REST API requests by endpoint template and HTTP status (network errors: status "error")',
        labelNames: ['endpoint', 'status'],
        registers: [registry],
      }),
      seconds: new Histogram({
        name: 'zoom_api_request_seconds',
        help: 'Latency of one Zoom REST API request',
        labelNames: ['endpoint'],
        buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
        registers: [registry],
      }),
      rateLimited: new Counter({
        name: 'zoom_api_rate_limited_total',
        help: 'Zoom REST API answers 429 (the client waited for Retry-After)',
        labelNames: ['endpoint'],
        registers: [registry],
      }),
    };
    metricsByRegistry.set(registry, m);
  }
  return m;
}

/**
 * Zoom's REST API (the parts the reconciler needs). Every request: a slot of the per-second budget, the shared S2S
 * token as Bearer (a 401 invalidates it and retries once with a fresh one), a CLIENT span named by the endpoint
 * template, a counter by status. 429 waits for Retry-After (all callers pause), 5xx and network errors back off.
 */
export class ZoomApiClient {
  private readonly base: string;
  private readonly budget: RequestBudget;
  private readonly maxAttempts: number;
  private readonly backoff: { baseMs: number; maxMs: number };
  private readonly defaultRetryAfterMs: number;
  private readonly maxRetryAfterMs: number;
  private readonly timeoutMs: number;
  private readonly metrics: ClientMetrics | undefined;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly host: string;
  private calls = 0;

  constructor(private readonly options: ZoomApiClientOptions) {
    const base = new URL(options.baseUrl ?? DEFAULT_ZOOM_API_URL);
    const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(base.hostname) || base.hostname.startsWith('127.');
    // The bearer token goes with every request: never over plain http beyond this machine.
    if (base.protocol !== 'https:' && !(base.protocol === 'http:' && loopback))
      throw new TypeError(`Zoom API URL must use https (plain http only for a loopback host)`);
    this.base = base.href.replace(/\/+$/, '');
    this.host = base.hostname;
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.budget = new RequestBudget(options.requestsPerSecond ?? 5, this.now, this.sleep);
    this.maxAttempts = Math.max(1, options.maxAttempts ?? 6);
    this.backoff = options.backoff ?? { baseMs: 500, maxMs: 30_000 };
    this.defaultRetryAfterMs = options.defaultRetryAfterMs ?? 1_000;
    this.maxRetryAfterMs = options.maxRetryAfterMs ?? 60_000;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.metrics = clientMetrics(options.registry);
  }

  /** HTTP requests sent so far (every try counts): the benchmark compares it with the minimum. */
  get requestCount(): number {
    return this.calls;
  }

  /**
   * Every page of every window of [from, to] (split into windows of at most 30 days), in order. A page token is
   * used at once (Zoom expires them after 15 minutes), so the consumer of this iterator should not stall between pages.
   */
  async *listRecordings(req: ListRecordingsRequest): AsyncGenerator<RecordingPage> {
    const pageSize = Math.min(MAX_PAGE_SIZE, Math.max(1, req.pageSize ?? MAX_PAGE_SIZE));
    const { path, endpoint } = listingPath(req.scope);
    for (const window of splitIntoWindows(req.from, req.to)) {
      let token: string | undefined;
      let page = 0;
      do {
        const query: Record<string, string> = { from: window.from, to: window.to, page_size: String(pageSize) };
        if (token !== undefined) query.next_page_token = token;
        const body = await this.getJson(endpoint, path, query, req.signal);
        const meetings = Array.isArray(body.meetings) ? (body.meetings as unknown[]).filter(isMeeting) : [];
        page += 1;
        const next =
          typeof body.next_page_token === 'string' && body.next_page_token !== '' ? body.next_page_token : undefined;
        if (next !== undefined && next === token)
          throw new ZoomApiError('zoom_api_invalid_answer', `${endpoint}: the same next_page_token came back`, {
            retryable: false,
            endpoint,
          });
        token = next;
        yield {
          window,
          page,
          meetings,
          totalRecords: typeof body.total_records === 'number' ? body.total_records : undefined,
        };
      } while (token !== undefined);
    }
  }

  /** Moves one recording file to Zoom's trash (`action=trash`, recoverable for 30 days). */
  async trashRecordingFile(meetingUuid: string, recordingId: string, signal?: AbortSignal): Promise<void> {
    const endpoint = 'DELETE /meetings/{meetingId}/recordings/{recordingId}';
    await this.send(
      endpoint,
      'DELETE',
      `/meetings/${encodeMeetingUuid(meetingUuid)}/recordings/${encodeURIComponent(recordingId)}`,
      { action: 'trash' },
      signal,
    );
  }

  /**
   * Registers a person for a meeting (auto-approved when the meeting approves registrants automatically). A refusal
   * (e.g. a meeting without registration, 404 for an unknown meeting) is a ZoomApiError with Zoom's status and its
   * numeric error code (`details.zoomCode`), never its message.
   */
  async addMeetingRegistrant(
    meetingId: string,
    who: MeetingRegistrantRequest,
    signal?: AbortSignal,
  ): Promise<MeetingRegistrant> {
    const endpoint = 'POST /meetings/{meetingId}/registrants';
    const body = {
      email: who.email,
      first_name: who.firstName,
      ...(who.lastName !== undefined ? { last_name: who.lastName } : {}),
    };
    const text = await this.send(
      endpoint,
      'POST',
      `/meetings/${encodeURIComponent(meetingId)}/registrants`,
      {},
      signal,
      body,
    );
    let answer: Record<string, unknown> | undefined;
    try {
      answer = JSON.parse(text) as Record<string, unknown>;
    } catch {
      // fall through
    }
    const registrantId = answer?.registrant_id;
    const joinUrl = answer?.join_url;
    if (typeof registrantId !== 'string' || registrantId === '' || typeof joinUrl !== 'string' || joinUrl === '')
      throw new ZoomApiError('zoom_api_invalid_answer', `${endpoint}: the answer has no registrant_id and join_url`, {
        retryable: false,
        endpoint,
      });
    return { registrantId, joinUrl };
  }

  private async getJson(
    endpoint: string,
    path: string,
    query: Record<string, string>,
    signal?: AbortSignal,
  ): Promise<Record<string, unknown>> {
    const text = await this.send(endpoint, 'GET', path, query, signal);
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed))
        return parsed as Record<string, unknown>;
    } catch {
      // fall through
    }
    throw new ZoomApiError('zoom_api_invalid_answer', `${endpoint}: the answer is not a JSON object`, {
      retryable: false,
      endpoint,
    });
  }

  private async send(
    endpoint: string,
    method: string,
    path: string,
    query: Record<string, string>,
    signal?: AbortSignal,
    json?: object,
  ): Promise<string> {
    const search = new URLSearchParams(query).toString();
    const url = `${this.base}${path}${search ? `?${search}` : ''}`;
    let refreshedToken = false;
    for (let attempt = 1; ; attempt += 1) {
      await this.budget.take();
      signal?.throwIfAborted();
      const token = await this.options.tokens.getToken();
      this.calls += 1;
      const started = this.now();
      const outcome = await inSpan(
        `${method} ${endpoint.replace(/^[A-Z]+ /, '')}`,
        {
          kind: SpanKind.CLIENT,
          attributes: {
            [ATTR.httpMethod]: method,
            'url.template': endpoint.replace(/^[A-Z]+ /, ''),
            [ATTR.serverAddress]: this.host,
            'http.request.resend_count': attempt - 1,
          },
        },
        async (span) => {
          try {
            const res = await fetch(url, {
              method,
              headers: {
                authorization: `Bearer ${token}`,
                accept: 'application/json',
                ...(json ? { 'content-type': 'application/json' } : {}),
              },
              ...(json ? { body: JSON.stringify(json) } : {}),
              signal: signal
                ? AbortSignal.any([signal, AbortSignal.timeout(this.timeoutMs)])
                : AbortSignal.timeout(this.timeoutMs),
            });
            span.setAttribute(ATTR.httpStatus, res.status);
            const body = await res.text();
            return { status: res.status, body, retryAfter: res.headers.get('retry-after') ?? undefined };
          } catch (err) {
            if (signal?.aborted) throw err;
            span.setAttribute(ATTR.errorType, 'network');
            return { status: 0, body: '', retryAfter: undefined };
          }
        },
      );
      this.metrics?.requests.inc({ endpoint, status: outcome.status === 0 ? 'error' : String(outcome.status) });
      this.metrics?.seconds.observe({ endpoint }, (this.now() - started) / 1000);
      const { status } = outcome;
      if (status >= 200 && status < 300) return outcome.body;
      if (status === 401 && !refreshedToken) {
        // An S2S token can expire or be revoked between the cache's check and Zoom's: one fresh token is worth a try.
        refreshedToken = true;
        this.options.tokens.invalidate(token);
        continue;
      }
      const retryable = status === 0 || status === 429 || status >= 500;
      if (!retryable || attempt >= this.maxAttempts) {
        const why = status === 0 ? 'network error' : `HTTP ${status}`;
        if (status === 401 || status === 403)
          throw new ZoomApiError(
            'zoom_api_unauthorized',
            `${endpoint}: Zoom refused the S2S access token (${why}; check the app's scopes for this endpoint)`,
            { retryable: false, status, endpoint },
          );
        const zoomCode = retryable ? undefined : zoomErrorCode(outcome.body);
        throw new ZoomApiError(
          retryable ? 'zoom_api_unavailable' : 'zoom_api_rejected',
          `${endpoint}: ${why}${zoomCode !== undefined ? ` (Zoom code ${zoomCode})` : ''}` +
            `${retryable ? ` after ${attempt} attempts` : ''}`,
          { retryable, status, endpoint, ...(zoomCode !== undefined ? { zoomCode } : {}) },
        );
      }
      if (status === 429) {
        this.metrics?.rateLimited.inc({ endpoint });
        const wait = Math.min(
          this.maxRetryAfterMs,
          parseRetryAfterMs(outcome.retryAfter, this.now()) ?? this.defaultRetryAfterMs,
        );
        // Everyone using this client waits: the limit is the account's, not this request's.
        this.budget.pauseUntil(this.now() + wait);
      } else {
        const cap = Math.min(this.backoff.maxMs, this.backoff.baseMs * 2 ** (attempt - 1));
        await this.sleep(Math.floor(Math.random() * cap));
      }
    }
  }
}

function listingPath(scope: RecordingScope): { path: string; endpoint: string } {
  if (scope.kind === 'user')
    return {
      path: `/users/${encodeURIComponent(scope.userId)}/recordings`,
      endpoint: 'GET /users/{userId}/recordings',
    };
  return {
    path: `/accounts/${encodeURIComponent(scope.accountId ?? 'me')}/recordings`,
    endpoint: 'GET /accounts/{accountId}/recordings',
  };
}

/** A UUID starting with `/` or containing `//` must be encoded twice in a path (docs/ZOOM-FACTS.md §5). */
export function encodeMeetingUuid(uuid: string): string {
  const once = encodeURIComponent(uuid);
  return uuid.startsWith('/') || uuid.includes('//') ? encodeURIComponent(once) : once;
}

/** Zoom's numeric error code from an error body (`{code, message}`); the message may echo input, so it is dropped. */
function zoomErrorCode(body: string): number | undefined {
  try {
    const code = (JSON.parse(body) as { code?: unknown }).code;
    return typeof code === 'number' && Number.isInteger(code) ? code : undefined;
  } catch {
    return undefined;
  }
}

function isMeeting(value: unknown): value is ZoomRecordingMeeting {
  return typeof value === 'object' && value !== null && typeof (value as { uuid?: unknown }).uuid === 'string';
}

/** Retry-After as delay-seconds or an HTTP date, in ms from now. */
export function parseRetryAfterMs(value: string | undefined, nowMs: number): number | undefined {
  const text = value?.trim();
  if (text === undefined || text === '') return undefined;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}
