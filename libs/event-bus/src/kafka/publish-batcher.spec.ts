import { BusUnavailableError, type OutgoingMessage } from '../event-bus.port';
import { PublishBatcher, type PublishBatcherOptions } from './publish-batcher';

const msg = (i: number, bytes = 10): OutgoingMessage => ({
  topic: 't',
  key: `k${i}`,
  value: Buffer.alloc(bytes, i % 256),
});

interface FakeSend {
  calls: OutgoingMessage[][];
  /** Settles the oldest pending send. */
  ack(): void;
  fail(err: Error): void;
}

function batcher(overrides: Partial<PublishBatcherOptions> = {}): {
  batcher: PublishBatcher;
  sends: FakeSend;
  abandoned: () => number;
} {
  const pending: Array<{ resolve(): void; reject(err: Error): void }> = [];
  const calls: OutgoingMessage[][] = [];
  let abandoned = 0;
  const b = new PublishBatcher({
    send: (messages) =>
      new Promise<void>((resolve, reject) => {
        calls.push(messages);
        pending.push({ resolve, reject });
      }),
    onSendAbandoned: () => {
      abandoned++;
    },
    sendTimeoutMs: 1_000,
    maxBatchMessages: 1_000,
    maxBatchBytes: 1024 * 1024,
    lingerMs: 0,
    ...overrides,
  });
  return {
    batcher: b,
    abandoned: () => abandoned,
    sends: {
      calls,
      ack: () => pending.shift()!.resolve(),
      fail: (err) => pending.shift()!.reject(err),
    },
  };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('PublishBatcher', () => {
  it('sends callers of the same tick together, and everything queued during a send right after it', async () => {
    const { batcher: b, sends } = batcher();
    const deadline = Date.now() + 5_000;
    const first = [0, 1, 2].map((i) => b.publish([msg(i)], deadline));
    await tick();
    expect(sends.calls).toHaveLength(1);
    expect(sends.calls[0]).toHaveLength(3);

    // While the first batch is in flight, more callers queue up: they must not go out yet (one in flight).
    const second = [3, 4, 5, 6].map((i) => b.publish([msg(i)], deadline));
    await tick();
    expect(sends.calls).toHaveLength(1);

    sends.ack();
    await Promise.all(first);
    await tick();
    expect(sends.calls).toHaveLength(2);
    expect(sends.calls[1].map((m) => m.key)).toEqual(['k3', 'k4', 'k5', 'k6']);
    sends.ack();
    await Promise.all(second);
    expect(b.stats).toMatchObject({ batches: 2, messages: 7 });
  });

  it('settles each caller with its own batch: a failed batch rejects only its callers, as BusUnavailableError', async () => {
    const { batcher: b, sends } = batcher();
    const deadline = Date.now() + 5_000;
    const a = b.publish([msg(1)], deadline);
    await tick();
    const c = b.publish([msg(2)], deadline);
    sends.fail(new Error('NOT_ENOUGH_REPLICAS'));
    await expect(a).rejects.toBeInstanceOf(BusUnavailableError);
    await tick();
    sends.ack();
    await expect(c).resolves.toBeUndefined();
  });

  it('caps a batch by messages and bytes but never splits one caller', async () => {
    const { batcher: b, sends } = batcher({ maxBatchMessages: 5, maxBatchBytes: 10_000 });
    const deadline = Date.now() + 5_000;
    const all = [
      b.publish([msg(0), msg(1), msg(2)], deadline),
      b.publish([msg(3), msg(4), msg(5)], deadline), // would make 6 > 5: next batch
      b.publish([msg(6, 20_000)], deadline), // alone over the byte cap: still sent, alone
    ];
    await tick();
    expect(sends.calls.map((c) => c.length)).toEqual([3]);
    sends.ack();
    await tick();
    await tick();
    expect(sends.calls.map((c) => c.length)).toEqual([3, 3]);
    sends.ack();
    await tick();
    await tick();
    expect(sends.calls.map((c) => c.length)).toEqual([3, 3, 1]);
    sends.ack();
    await Promise.all(all);
  });

  it('rejects a caller at its deadline even while its batch is still queued, and does not send it afterwards', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate'] });
    try {
      const { batcher: b, sends } = batcher({ sendTimeoutMs: 10_000 });
      const inFlight = b.publish([msg(0)], Date.now() + 10_000);
      await tick();
      const queued = b.publish([msg(1)], Date.now() + 100);
      const rejected = expect(queued).rejects.toBeInstanceOf(BusUnavailableError);
      jest.advanceTimersByTime(150);
      await rejected;
      sends.ack();
      await inFlight;
      await tick();
      expect(sends.calls).toHaveLength(1);
    } finally {
      jest.useRealTimers();
    }
  });

  it('abandons a send stuck past sendTimeoutMs, reports it, and moves on to the next batch', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate'] });
    try {
      const { batcher: b, sends, abandoned } = batcher({ sendTimeoutMs: 1_000 });
      const stuck = b.publish([msg(0)], Date.now() + 1_000);
      const stuckResult = expect(stuck).rejects.toBeInstanceOf(BusUnavailableError);
      await tick();
      const next = b.publish([msg(1)], Date.now() + 5_000);
      jest.advanceTimersByTime(1_001);
      await stuckResult;
      await tick();
      await tick();
      expect(abandoned()).toBe(1);
      expect(sends.calls).toHaveLength(2);
      sends.fail(new Error('late failure of the abandoned send')); // must not surface anywhere
      sends.ack();
      await expect(next).resolves.toBeUndefined();
    } finally {
      jest.useRealTimers();
    }
  });

  it('drain() waits for queued and in-flight publishes', async () => {
    const { batcher: b, sends } = batcher();
    const p = b.publish([msg(0)], Date.now() + 5_000);
    let drained = false;
    const draining = b.drain().then(() => {
      drained = true;
    });
    await tick();
    expect(drained).toBe(false);
    sends.ack();
    await p;
    await draining;
    expect(drained).toBe(true);
  });
});
