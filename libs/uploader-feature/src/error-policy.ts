import { backoffDelay } from '@zoom-pipeline/async-kit';
import type { UploadFailureReason } from '@zoom-pipeline/contracts';
import { DedupStoreUnavailableError } from '@zoom-pipeline/dedup-store';
import { ObjectStoreError } from '@zoom-pipeline/object-store';
import { DownloadError } from '@zoom-pipeline/zoom-download';

/**
 * What to do with a record whose attempt failed, decided by the failure's cause (issue "No poison pill"):
 * - `transient`: another try later may succeed (Zoom 429/5xx, network, S3 or Redis unavailable, another
 *   transfer of the same file running); retried with backoff, never before `retryAfterMs`, within the budget.
 * - `permanent`: the same input fails the same way every time (size mismatch, key or metadata refused, a
 *   token Zoom rejects, a host not allowed); dead-lettered on zoom.recording.failed at once with `reason`.
 * Messages never contain a token: DownloadError and ObjectStoreError messages are vetted by their libs.
 */
export type ErrorClass =
  | { kind: 'transient'; reason: string; message: string; retryAfterMs?: number }
  | { kind: 'permanent'; reason: UploadFailureReason; message: string };

/** Another transfer of this file holds its lease (this pod or another): try later, it will find the object. */
export class FileBusyError extends Error {
  readonly code = 'file_busy';
  constructor(fileId: string) {
    super(`file ${fileId} is being uploaded by another transfer`);
    this.name = 'FileBusyError';
  }
}

export function classifyUploadError(err: unknown): ErrorClass {
  if (err instanceof DownloadError) {
    if (!err.retryable) return { kind: 'permanent', reason: err.code, message: err.message };
    return err.retryAfterMs === undefined
      ? { kind: 'transient', reason: err.code, message: err.message }
      : { kind: 'transient', reason: err.code, message: err.message, retryAfterMs: err.retryAfterMs };
  }
  if (err instanceof ObjectStoreError) {
    switch (err.failure) {
      case 'source_failed':
        // The download broke the upload: its own error says whether another try can help (a size mismatch
        // found mid-body was wrapped as a retryable store error and redelivered forever).
        return err.cause instanceof DownloadError
          ? classifyUploadError(err.cause)
          : { kind: 'transient', reason: 'download_network', message: err.message };
      case 'size_mismatch':
        return { kind: 'permanent', reason: 'download_size_mismatch', message: err.message };
      case 'key_rejected':
        return { kind: 'permanent', reason: 'object_key_rejected', message: err.message };
      case 'metadata_rejected':
        return { kind: 'permanent', reason: 'metadata_rejected', message: err.message };
      case 'unavailable':
      case 'aborted':
      case 'rejected':
        // unavailable, aborted, and `rejected` (credentials, bucket missing): our own outage or configuration,
        // never the file's fault, so retried until an operator fixes it or the budget runs out.
        return { kind: 'transient', reason: 'store_failed', message: err.message };
    }
  }
  if (err instanceof FileBusyError) return { kind: 'transient', reason: 'file_busy', message: err.message };
  if (err instanceof DedupStoreUnavailableError)
    return { kind: 'transient', reason: 'dedup_store_unavailable', message: 'dedup store unavailable' };
  // Unknown: not vetted for secrets, so only its name goes out; retried within the budget, then dead-lettered.
  return {
    kind: 'transient',
    reason: 'unexpected',
    message: `unexpected ${err instanceof Error ? err.name : 'error'}`,
  };
}

export interface RetryPolicy {
  budgetMs: number;
  maxDelayMs: number;
  /** 0 ≤ random() < 1; injectable for tests. */
  random?: () => number;
}

/**
 * When to try a record again after its `attempt`-th transient failure (1-based), or undefined when its budget
 * is spent. Exponential from min(5 s, maxDelay) with equal jitter (half fixed, half random: spreads pods without
 * ever retrying at once), never before the server's Retry-After, never after the deadline (the last try then
 * happens at the deadline).
 */
export function nextRetryAt(
  policy: RetryPolicy,
  attempt: number,
  nowMs: number,
  deadlineMs: number,
  retryAfterMs?: number,
): number | undefined {
  if (nowMs >= deadlineMs) return undefined;
  const backoff = { initialMs: Math.min(5_000, policy.maxDelayMs), maxMs: policy.maxDelayMs };
  const delay = Math.max(backoffDelay(attempt, backoff, { random: policy.random }), retryAfterMs ?? 0);
  return Math.min(nowMs + Math.ceil(delay), deadlineMs);
}
