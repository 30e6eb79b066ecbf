/**
 * Time source for the simulator. Zoom's retry schedule spans 85 minutes; a FastClock compresses it so a
 * unit test can watch all four attempts in about a second. Everything the sender derives from time (the
 * retry waits and the `x-zm-request-timestamp` it writes) goes through the clock; network deadlines (the
 * 3 s ack timeout) stay in real time because the receiver runs in real time.
 */
export interface SimClock {
  /** Epoch milliseconds. */
  now(): number;
  /** Waits `ms` of this clock's time. Resolves early (never rejects) when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

function realSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted === true) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, ms));
    signal?.addEventListener('abort', done, { once: true });
  });
}

export const realClock: SimClock = {
  now: () => Date.now(),
  sleep: realSleep,
};

/**
 * Simulated time running `factor` times faster than real time, starting at `startMs`. With factor 5000
 * the 5 + 20 + 60 minute schedule takes about 1 s. now() keeps advancing between sleeps, so request
 * latency also shows up multiplied (2 ms real = 10 s simulated): assert schedules with a tolerance.
 */
export class FastClock implements SimClock {
  private readonly realStart = performance.now();

  constructor(
    readonly factor: number,
    private readonly startMs: number = Date.now(),
  ) {
    if (!(factor > 0)) throw new Error('FastClock factor must be > 0');
  }

  now(): number {
    return Math.floor(this.startMs + (performance.now() - this.realStart) * this.factor);
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return realSleep(ms / this.factor, signal);
  }
}

/**
 * Simulated time that moves only when someone sleeps: sleep(ms) advances it by exactly `ms` and resolves on the
 * next turn of the event loop. Schedules can then be asserted exactly, whatever the machine's load (a FastClock
 * multiplies real timer lateness by its factor).
 */
export class SteppingClock implements SimClock {
  constructor(private current: number = Date.now()) {}

  now(): number {
    return this.current;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted !== true) this.current += Math.max(0, ms);
    return new Promise((resolve) => setImmediate(resolve));
  }
}
