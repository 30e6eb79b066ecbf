import { backoffDelay, sleep, untilAborted, withDeadline, withTimeout } from './index';

const B = { initialMs: 200, maxMs: 30_000 };

describe('backoffDelay', () => {
  it('doubles from the initial step and caps, with equal jitter within [half, full] by default', () => {
    expect(backoffDelay(1, B, { random: () => 0 })).toBe(100);
    expect(backoffDelay(1, B, { random: () => 1 })).toBe(200);
    expect(backoffDelay(2, B, { random: () => 1 })).toBe(400);
    expect(backoffDelay(50, B, { random: () => 1 })).toBe(30_000);
    expect(backoffDelay(50, B, { random: () => 0 })).toBe(15_000);
  });

  it('full jitter spreads over [0, step); none gives the step', () => {
    expect(backoffDelay(3, B, { jitter: 'full', random: () => 0 })).toBe(0);
    expect(backoffDelay(3, B, { jitter: 'full', random: () => 0.5 })).toBe(400);
    expect(backoffDelay(3, B, { jitter: 'none' })).toBe(800);
  });

  it('never overflows for a caller that has failed for a very long time', () => {
    expect(backoffDelay(10_000, B, { jitter: 'none' })).toBe(30_000);
  });
});

describe('sleep', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('ends when its signal aborts, without the timer firing', async () => {
    const abort = new AbortController();
    const sleeping = sleep(10_000, abort.signal);
    abort.abort();
    await expect(sleeping).resolves.toBeUndefined();
    expect(jest.getTimerCount()).toBe(0);
  });

  it("rejects with the signal's reason when asked to", async () => {
    const abort = new AbortController();
    const sleeping = sleep(10_000, abort.signal, 'reject');
    abort.abort(new Error('stopping'));
    await expect(sleeping).rejects.toThrow('stopping');
  });

  it('resolves after the time has passed', async () => {
    const sleeping = sleep(5_000);
    jest.advanceTimersByTime(5_000);
    await expect(sleeping).resolves.toBeUndefined();
  });
});

describe('withTimeout', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('gives the work when it settles first, and clears its timer', async () => {
    await expect(withTimeout(Promise.resolve(7), 1_000, () => 0)).resolves.toBe(7);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('gives the fallback, or the thrown error, at the deadline; a late rejection is not left unhandled', async () => {
    const never = new Promise<number>(() => undefined);
    const fallback = withTimeout(never, 1_000, () => -1);
    jest.advanceTimersByTime(1_000);
    await expect(fallback).resolves.toBe(-1);

    let fail!: (e: Error) => void;
    const late = new Promise<number>((_, reject) => (fail = reject));
    const failing = withTimeout(late, 1_000, () => {
      throw new Error('too slow');
    });
    jest.advanceTimersByTime(1_000);
    await expect(failing).rejects.toThrow('too slow');
    fail(new Error('late failure'));
  });
});

describe('withDeadline', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it("aborts the work's signal with the timeout error at the deadline, with one timer", async () => {
    let seen: AbortSignal | undefined;
    const call = withDeadline(
      1_000,
      (signal) => {
        seen = signal;
        return new Promise<void>(() => undefined);
      },
      () => new Error('too late'),
    );
    expect(jest.getTimerCount()).toBe(1);
    const failing = expect(call).rejects.toThrow('too late');
    jest.advanceTimersByTime(1_000);
    await failing;
    expect(seen?.aborted).toBe(true);
    expect((seen?.reason as Error).message).toBe('too late');
    expect(jest.getTimerCount()).toBe(0);
  });

  it("gives the work's result and leaves its signal alone when it finishes first", async () => {
    let seen: AbortSignal | undefined;
    await expect(
      withDeadline(
        1_000,
        async (signal) => {
          seen = signal;
          return 3;
        },
        () => new Error('too late'),
      ),
    ).resolves.toBe(3);
    expect(seen?.aborted).toBe(false);
    expect(jest.getTimerCount()).toBe(0);
  });
});

describe('untilAborted', () => {
  it('rejects with the reason when the signal aborts first, and gives the work otherwise', async () => {
    const abort = new AbortController();
    const waiting = untilAborted(new Promise<number>(() => undefined), abort.signal);
    abort.abort(new Error('deadline'));
    await expect(waiting).rejects.toThrow('deadline');
    await expect(untilAborted(Promise.resolve(1), new AbortController().signal)).resolves.toBe(1);
    await expect(untilAborted(Promise.resolve(1), AbortSignal.abort(new Error('already')))).rejects.toThrow('already');
  });
});
