export type DownloadErrorCode =
  | 'download_forbidden_host'
  | 'download_unauthorized'
  | 'download_html_response'
  | 'download_size_mismatch'
  | 'download_http_error'
  | 'download_network';

export interface DownloadErrorDetails {
  retryable: boolean;
  /** Host name of the hop that failed. Never a URL: paths and query strings carry tokens and signatures. */
  host?: string;
  /** HTTP status of the answer that failed, when there was one. */
  status?: number;
  /** The server's `Retry-After` (429, 503), in ms: the earliest a retry is welcome. */
  retryAfterMs?: number;
}

/**
 * Every failure of a download. The message names the host and a reason only (SPEC §7 invariant 7):
 * callers may log it as is. No `cause` is attached, because Node's own errors are not ours to vet.
 */
export class DownloadError extends Error {
  readonly retryable: boolean;
  readonly host?: string;
  readonly status?: number;
  readonly retryAfterMs?: number;

  constructor(
    readonly code: DownloadErrorCode,
    reason: string,
    details: DownloadErrorDetails,
  ) {
    super(details.host === undefined ? reason : `${details.host}: ${reason}`);
    this.name = 'DownloadError';
    this.retryable = details.retryable;
    if (details.host !== undefined) this.host = details.host;
    if (details.status !== undefined) this.status = details.status;
    if (details.retryAfterMs !== undefined) this.retryAfterMs = details.retryAfterMs;
  }
}

/**
 * `Retry-After` as delay-seconds or an HTTP date (RFC 9110 §10.2.3), in ms from `nowMs`; undefined when absent or
 * unusable.
 */
export function parseRetryAfter(value: string | string[] | undefined, nowMs: number): number | undefined {
  const text = (Array.isArray(value) ? value[0] : value)?.trim();
  if (text === undefined || text === '') return undefined;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

/** `ECONNRESET` and the like: safe to show, unlike Node's messages, which may grow details later. */
export function describeNetworkError(err: unknown): string {
  if (err instanceof DownloadError) return err.message;
  const code = typeof err === 'object' && err !== null && 'code' in err ? (err as { code: unknown }).code : undefined;
  return typeof code === 'string' && /^[A-Z0-9_]+$/.test(code) ? code : 'connection failed';
}
