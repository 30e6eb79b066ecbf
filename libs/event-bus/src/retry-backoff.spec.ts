import { backoffDelay, DEFAULT_RETRY_BACKOFF } from './retry-backoff';

describe('DEFAULT_RETRY_BACKOFF', () => {
  it('redelivers a failed batch after 100-200 ms at first and at most every 30 s', () => {
    expect(backoffDelay(1, DEFAULT_RETRY_BACKOFF, { random: () => 0 })).toBe(100);
    expect(backoffDelay(1, DEFAULT_RETRY_BACKOFF, { random: () => 1 })).toBe(200);
    expect(backoffDelay(50, DEFAULT_RETRY_BACKOFF, { random: () => 1 })).toBe(30_000);
  });
});
