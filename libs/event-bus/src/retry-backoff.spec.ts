import { backoffDelay, DEFAULT_RETRY_BACKOFF, sleep } from './retry-backoff';

describe('backoffDelay', () => {
  it('doubles from 200 ms and caps at 30 s, with jitter within [half, full]', () => {
    expect(backoffDelay(1, DEFAULT_RETRY_BACKOFF, () => 0)).toBe(100);
    expect(backoffDelay(1, DEFAULT_RETRY_BACKOFF, () => 1)).toBe(200);
    expect(backoffDelay(2, DEFAULT_RETRY_BACKOFF, () => 1)).toBe(400);
    expect(backoffDelay(50, DEFAULT_RETRY_BACKOFF, () => 1)).toBe(30_000);
    expect(backoffDelay(50, DEFAULT_RETRY_BACKOFF, () => 0)).toBe(15_000);
  });

  it('sleep() ends early when its signal aborts', async () => {
    const abort = new AbortController();
    const started = Date.now();
    const sleeping = sleep(10_000, abort.signal);
    abort.abort();
    await sleeping;
    expect(Date.now() - started).toBeLessThan(1_000);
  });
});
