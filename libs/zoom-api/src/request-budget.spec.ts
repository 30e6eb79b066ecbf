import { RequestBudget } from './request-budget';

/** A fake clock whose sleep advances time, so the test sees exactly when each slot was granted. */
function fakeTime() {
  let now = 1_000_000;
  return { now: () => now, sleep: async (ms: number) => void (now += ms) };
}

describe('RequestBudget', () => {
  it('spaces requests evenly at the configured rate', async () => {
    const t = fakeTime();
    const budget = new RequestBudget(4, t.now, t.sleep);
    const granted: number[] = [];
    for (let i = 0; i < 5; i++) {
      await budget.take();
      granted.push(t.now() - 1_000_000);
    }
    expect(granted).toEqual([0, 250, 500, 750, 1000]);
  });

  it('makes every caller wait out a pause (a 429 Retry-After)', async () => {
    const t = fakeTime();
    const budget = new RequestBudget(100, t.now, t.sleep);
    await budget.take();
    budget.pauseUntil(t.now() + 5_000);
    await budget.take();
    expect(t.now() - 1_000_000).toBeGreaterThanOrEqual(5_000);
  });
});
