import { type Backoff } from '@zoom-pipeline/async-kit';

export { backoffDelay, sleep } from '@zoom-pipeline/async-kit';

/** Backoff between redeliveries of a batch whose handler threw (or whose commit failed). */
export type RetryBackoff = Backoff;

/** 200 ms doubling to 30 s: quick on a blip, gentle on a dependency that is down for minutes. */
export const DEFAULT_RETRY_BACKOFF: RetryBackoff = { initialMs: 200, maxMs: 30_000 };
