/**
 * The one place for waiting: retry backoff, abortable sleep, and a deadline on a promise (with an AbortSignal for
 * the work under it). Every retry loop and timeout in the repo uses these, so a change of policy is made once.
 */

/** Exponential backoff, capped: `initialMs` after the first failure, doubling up to `maxMs`. */
export interface Backoff {
  initialMs: number;
  maxMs: number;
}

export interface JitterOptions {
  /**
   * `equal` (default): half fixed, half random, never less than half the step (a consumer that failed must not
   * retry at once). `full`: anywhere in [0, step) (AWS, "Exponential Backoff And Jitter": spreads many clients
   * best). `none`: the step itself (for clients that add their own jitter).
   */
  jitter?: 'equal' | 'full' | 'none';
  random?: () => number;
}

/** Delay before the next try after `attempt` failures so far (1-based). */
export function backoffDelay(attempt: number, backoff: Backoff, options: JitterOptions = {}): number {
  // The exponent is capped so a long-failing caller never computes Infinity.
  const step = Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.min(Math.max(0, attempt - 1), 30));
  const random = options.random ?? Math.random;
  switch (options.jitter ?? 'equal') {
    case 'equal':
      return Math.round(step / 2 + (random() * step) / 2);
    case 'full':
      return Math.floor(random() * step);
    case 'none':
      return step;
  }
}

/**
 * Sleeps `ms`. When `signal` aborts it ends early: resolving (`onAbort: 'resolve'`, default: a stopping loop
 * must not wait out a 30 s backoff) or rejecting with the signal's reason (`'reject'`: the caller's work is
 * cancelled).
 */
export function sleep(ms: number, signal?: AbortSignal, onAbort: 'resolve' | 'reject' = 'resolve'): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const end = (): void => (onAbort === 'reject' ? reject(abortReason(signal)) : resolve());
    if (signal?.aborted) return end();
    const abort = (): void => {
      clearTimeout(timer);
      end();
    };
    const timer = setTimeout(
      () => {
        signal?.removeEventListener('abort', abort);
        resolve();
      },
      Math.max(0, ms),
    );
    signal?.addEventListener('abort', abort, { once: true });
  });
}

/**
 * `work`, or `onTimeout()` if it has not settled within `ms`. The work itself is not cancelled (bound it by its
 * own retries or an AbortSignal); a rejection it raises after the deadline is swallowed, not left unhandled.
 * `onTimeout` may return a fallback value or throw the caller's own error.
 */
export function withTimeout<T, F = never>(work: Promise<T>, ms: number, onTimeout: () => F): Promise<T | F> {
  work.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<F>((resolve, reject) => {
    timer = setTimeout(
      () => {
        try {
          resolve(onTimeout());
        } catch (err) {
          reject(err);
        }
      },
      Math.max(0, ms),
    );
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

/**
 * Runs `work` under a deadline of `ms` that this call owns: one timer, cleared when the work settles. At the
 * deadline the signal handed to `work` aborts with `onTimeout()`'s error and the call rejects with it, whether or
 * not the work honours the signal (a callee that does drops what it queued instead of starting a second timer).
 */
export function withDeadline<T>(
  ms: number,
  work: (signal: AbortSignal) => Promise<T>,
  onTimeout: () => Error,
): Promise<T> {
  const abort = new AbortController();
  return withTimeout(work(abort.signal), ms, () => {
    const err = onTimeout();
    abort.abort(err);
    throw err;
  });
}

/**
 * `work`, or a rejection with the signal's reason as soon as `signal` aborts: for waiting on shared work (one
 * metadata call for many callers) up to the caller's deadline without a timer of its own.
 */
export function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  work.catch(() => undefined);
  if (signal.aborted) return Promise.reject(abortReason(signal));
  let onAbort!: () => void;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(abortReason(signal));
    signal.addEventListener('abort', onAbort, { once: true });
  });
  return Promise.race([work, aborted]).finally(() => signal.removeEventListener('abort', onAbort));
}

function abortReason(signal: AbortSignal | undefined): unknown {
  return signal?.reason ?? Object.assign(new Error('aborted'), { name: 'AbortError' });
}
