/** Backoff between redeliveries of a batch whose handler threw (or whose commit failed). */
export interface RetryBackoff {
  initialMs: number;
  maxMs: number;
}

/** 200 ms doubling to 30 s: quick on a blip, gentle on a dependency that is down for minutes. */
export const DEFAULT_RETRY_BACKOFF: RetryBackoff = { initialMs: 200, maxMs: 30_000 };

/**
 * Delay before attempt `attempt + 1` (attempt counts failures so far, from 1): exponential, capped, with
 * "equal jitter" (half fixed, half random) so consumers that failed together do not retry in lockstep.
 */
export function backoffDelay(attempt: number, backoff: RetryBackoff, random: () => number = Math.random): number {
  const exp = Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exp / 2 + (random() * exp) / 2);
}

/** Sleeps `ms`, or less when `signal` aborts (a stopping consumer must not wait out a 30 s backoff). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
