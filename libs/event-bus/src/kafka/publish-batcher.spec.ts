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

/** A caller's deadline: its signal aborts after `ms` (the caller owns the timer, as the ingress does). */
function deadlineIn(ms: number): AbortSignal {
  const abort = new AbortController();
  setTimeout(() => abort.abort(new BusUnavailableError('deadline')), ms);
  return abort.signal;
}

/** A caller that waits as long as it takes. */
const noDeadline = (): AbortSignal => new AbortController().signal;

describe('PublishBatcher', () => {
  it('sends callers of the same tick together, and everything queued during a send right after it', async () => {
    const { batcher: b, sends } = batcher();
    const deadline = noDeadline();
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

  it('settles each caller with its batch: a failed batch rejects only its callers (BusUnavailableError)', async () => {
    const { batcher: b, sends } = batcher();
    const deadline = noDeadline();
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
    const deadline = noDeadline();
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

  describe('deadlines (fake timers)', () => {
    beforeEach(() => jest.useFakeTimers({ doNotFake: ['setImmediate'] }));
    afterEach(() => jest.useRealTimers());

    it('rejects a caller at its deadline even while its batch is queued, and does not send it afterwards', async () => {
      const { batcher: b, sends } = batcher();
      const inFlight = b.publish([msg(0)], deadlineIn(10_000));
      await tick();
      const queued = b.publish([msg(1)], deadlineIn(100));
      const rejected = expect(queued).rejects.toBeInstanceOf(BusUnavailableError);
      jest.advanceTimersByTime(150);
      await rejected;
      sends.ack();
      await inFlight;
      await tick();
      expect(sends.calls).toHaveLength(1);
    });

    it("abandons a send stuck past its callers' deadline, reports it, and moves on to the next batch", async () => {
      const { batcher: b, sends, abandoned } = batcher();
      const stuck = b.publish([msg(0)], deadlineIn(1_000));
      const stuckResult = expect(stuck).rejects.toBeInstanceOf(BusUnavailableError);
      await tick();
      const next = b.publish([msg(1)], deadlineIn(5_000));
      jest.advanceTimersByTime(1_001);
      await stuckResult;
      await tick();
      await tick();
      expect(abandoned()).toBe(1);
      expect(sends.calls).toHaveLength(2);
      sends.fail(new Error('late failure of the abandoned send')); // must not surface anywhere
      sends.ack();
      await expect(next).resolves.toBeUndefined();
    });

    it("starts no deadline timer: callers' signals decide; a send is abandoned once all gave up", async () => {
      const { batcher: b, sends, abandoned } = batcher();
      const first = new AbortController();
      const second = new AbortController();
      const a = b.publish([msg(0)], first.signal);
      const c = b.publish([msg(1)], second.signal);
      await tick();
      expect(sends.calls).toHaveLength(1);
      expect(jest.getTimerCount()).toBe(0);

      first.abort();
      await expect(a).rejects.toBeInstanceOf(BusUnavailableError);
      await tick();
      expect(abandoned()).toBe(0); // the other caller still waits for this send

      second.abort();
      await expect(c).rejects.toBeInstanceOf(BusUnavailableError);
      await tick();
      expect(abandoned()).toBe(1);
      sends.ack(); // the abandoned send landing late settles nobody twice
      await tick();
      expect(jest.getTimerCount()).toBe(0);
    });
  });

  it('drain() waits for queued and in-flight publishes', async () => {
    const { batcher: b, sends } = batcher();
    const p = b.publish([msg(0)], noDeadline());
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
