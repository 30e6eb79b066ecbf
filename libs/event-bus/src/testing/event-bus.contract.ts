/**
 * The EventBus contract: one suite, run against every adapter (memory and file log in the unit tier, Kafka
 * in test/integration against the real broker). Tests are named by the behaviour the features rely on.
 */
import {
  type Batch,
  type BatchResult,
  type ConsumedMessage,
  type ConsumeOptions,
  type ConsumerHandle,
  type EventBus,
  UnknownTopicError,
} from '../event-bus.port';
import { partitionForKey } from '../log/murmur2-partition';

export interface EventBusContractHarness {
  /** A fresh bus on fresh storage. */
  create(): Promise<EventBus>;
  /** A new bus instance on the storage of the last one created (simulates a process restart). */
  reopen?(): Promise<EventBus>;
  /**
   * Simulates a crash in the middle of writing the most recent batch (file log: cut the last journal frame in
   * half). Called while no bus is open on the storage.
   */
  tearLastWrite?(): Promise<void>;
  /** A unique topic (or group) name. */
  topic(prefix: string): string;
  /** Per-test timeout; Kafka needs group joins. Default 30 s. */
  timeoutMs?: number;
}

/** Registers the test only when the adapter can do it (the memory bus has nothing to reopen). */
function itIf(condition: boolean): typeof it {
  return condition ? it : ((() => undefined) as unknown as typeof it);
}

export function describeEventBusContract(name: string, harness: EventBusContractHarness): void {
  const timeout = harness.timeoutMs ?? 30_000;

  describe(`EventBus contract: ${name}`, () => {
    const open: EventBus[] = [];
    const handles: ConsumerHandle[] = [];

    async function create(): Promise<EventBus> {
      const bus = await harness.create();
      open.push(bus);
      return bus;
    }

    async function reopen(): Promise<EventBus> {
      if (!harness.reopen) throw new Error('harness has no reopen');
      const bus = await harness.reopen();
      open.push(bus);
      return bus;
    }

    async function closeAll(): Promise<void> {
      await Promise.all(handles.splice(0).map((h) => h.stop().catch(() => undefined)));
      await Promise.all(open.splice(0).map((b) => b.close().catch(() => undefined)));
    }

    afterEach(closeAll, timeout);

    /** Consumes into arrays; the handler can be replaced per test. */
    async function consume(
      bus: EventBus,
      options: Omit<ConsumeOptions, 'eachBatch'> & { eachBatch?: ConsumeOptions['eachBatch'] },
    ): Promise<{ handle: ConsumerHandle; received: ConsumedMessage[]; batches: ConsumedMessage[][] }> {
      const received: ConsumedMessage[] = [];
      const batches: ConsumedMessage[][] = [];
      const handler = options.eachBatch;
      const handle = await bus.consume({
        ...options,
        eachBatch: async (batch: Batch): Promise<BatchResult> => {
          batches.push(batch.messages);
          const result = handler ? await handler(batch) : { outputs: [] };
          const through = result.commitThrough === undefined ? Infinity : Number(result.commitThrough);
          received.push(...batch.messages.filter((m) => Number(m.offset) <= through));
          return result;
        },
      });
      handles.push(handle);
      return { handle, received, batches };
    }

    async function stopAndClose(handle: ConsumerHandle, bus: EventBus): Promise<void> {
      await handle.stop();
      handles.splice(handles.indexOf(handle), 1);
      await bus.close();
      open.splice(open.indexOf(bus), 1);
    }

    it(
      'publishes then consumes in order per key, with key, headers and timestamp intact',
      async () => {
        const bus = await create();
        const topic = harness.topic('order');
        await bus.ensureTopics([{ topic, partitions: 3 }]);
        const keys = ['meeting-a', 'meeting-b', 'meeting-c', 'meeting-d'];
        const before = Date.now();
        // First half in one call, second half one call per message: order must hold across calls too.
        await bus.publish(
          keys.flatMap((key) =>
            [0, 1, 2].map((seq) => ({
              topic,
              key,
              value: Buffer.from(`${key}:${seq}`),
              headers: { 'x-seq': String(seq) },
            })),
          ),
        );
        for (let seq = 3; seq < 6; seq++) {
          for (const key of keys) {
            await bus.publish([{ topic, key, value: Buffer.from(`${key}:${seq}`), headers: { 'x-seq': String(seq) } }]);
          }
        }
        const { received } = await consume(bus, { groupId: harness.topic('g-order'), topics: [topic] });
        await waitUntil(() => received.length >= keys.length * 6, timeout, 'all 24 messages consumed');

        expect(received).toHaveLength(keys.length * 6);
        for (const key of keys) {
          const ofKey = received.filter((m) => m.key === key);
          expect(ofKey.map((m) => m.value.toString())).toEqual([0, 1, 2, 3, 4, 5].map((seq) => `${key}:${seq}`));
          expect(ofKey.map((m) => m.headers['x-seq'])).toEqual(['0', '1', '2', '3', '4', '5']);
          const offsets = ofKey.map((m) => BigInt(m.offset));
          expect([...offsets].sort((a, b) => (a < b ? -1 : 1))).toEqual(offsets);
        }
        for (const m of received) {
          expect(m.topic).toBe(topic);
          expect(m.timestamp).toBeGreaterThanOrEqual(before - 5_000);
          expect(m.timestamp).toBeLessThanOrEqual(Date.now() + 5_000);
        }
      },
      timeout,
    );

    it(
      "routes all messages of one key to one partition across a 3-partition topic (Kafka's murmur2 partition)",
      async () => {
        const bus = await create();
        const topic = harness.topic('keys');
        await bus.ensureTopics([{ topic, partitions: 3 }]);
        const keys = Array.from({ length: 20 }, (_, i) => `account-${i}`);
        await Promise.all(
          [0, 1, 2].map((round) =>
            bus.publish(keys.map((key) => ({ topic, key, value: Buffer.from(`${key}/${round}`) }))),
          ),
        );
        const { received } = await consume(bus, { groupId: harness.topic('g-keys'), topics: [topic] });
        await waitUntil(() => received.length >= 60, timeout, 'all 60 messages consumed');

        const partitionsByKey = new Map<string, Set<number>>();
        for (const m of received) {
          const set = partitionsByKey.get(m.key ?? '') ?? new Set<number>();
          set.add(m.partition);
          partitionsByKey.set(m.key ?? '', set);
        }
        expect(partitionsByKey.size).toBe(20);
        for (const [key, partitions] of partitionsByKey) {
          expect([...partitions]).toEqual([partitionForKey(key, 3)]);
        }
        expect(new Set(received.map((m) => m.partition)).size).toBe(3);
      },
      timeout,
    );

    itIf(!!harness.reopen)(
      'committed offsets survive a restart: only uncommitted messages are redelivered',
      async () => {
        const bus = await create();
        const topic = harness.topic('restart');
        const groupId = harness.topic('g-restart');
        await bus.ensureTopics([{ topic, partitions: 1 }]);
        await bus.publish([0, 1, 2, 3, 4].map((i) => ({ topic, key: 'k', value: Buffer.from(`m${i}`) })));
        const first = await consume(bus, { groupId, topics: [topic] });
        await waitUntil(() => first.received.length >= 5, timeout, 'first 5 consumed');
        await waitForLag(first.handle, 0, timeout);
        await stopAndClose(first.handle, bus);

        const restarted = await reopen();
        await restarted.publish([5, 6, 7].map((i) => ({ topic, key: 'k', value: Buffer.from(`m${i}`) })));
        const second = await consume(restarted, { groupId, topics: [topic] });
        await waitUntil(() => second.received.length >= 3, timeout, 'the 3 new messages consumed');
        await delay(500);
        expect(second.received.map((m) => m.value.toString())).toEqual(['m5', 'm6', 'm7']);

        // Nothing acknowledged before the restart was lost: a new group reads everything.
        const fresh = await consume(restarted, { groupId: harness.topic('g-restart-fresh'), topics: [topic] });
        await waitUntil(() => fresh.received.length >= 8, timeout, 'all 8 consumed by a new group');
        expect(fresh.received.map((m) => m.value.toString())).toEqual(['m0', 'm1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7']);
      },
      timeout,
    );

    it(
      'a handler that throws gets the same messages again and nothing is committed meanwhile',
      async () => {
        const bus = await create();
        const topic = harness.topic('retry');
        await bus.ensureTopics([{ topic, partitions: 1 }]);
        await bus.publish([0, 1, 2].map((i) => ({ topic, key: 'k', value: Buffer.from(`m${i}`) })));
        let healthy = false;
        const calls: string[][] = [];
        const { handle } = await consume(bus, {
          groupId: harness.topic('g-retry'),
          topics: [topic],
          eachBatch: async (batch) => {
            calls.push(batch.messages.map((m) => m.offset));
            if (!healthy) throw new Error('dependency down');
            return { outputs: [] };
          },
        });
        await waitUntil(() => calls.length >= 3, timeout, 'three failed attempts');
        expect(await totalLag(handle)).toBe(3);
        healthy = true;
        await waitForLag(handle, 0, timeout);

        const offsets = calls[0];
        expect(offsets).toHaveLength(3);
        // Every attempt, failed or not, saw exactly the same messages: nothing skipped, nothing reordered.
        for (const call of calls) expect(call).toEqual(offsets);
      },
      timeout,
    );

    it(
      'outputs become visible to other consumers only with the batch commit, exactly once',
      async () => {
        const bus = await create();
        const source = harness.topic('src');
        const out = harness.topic('out');
        await bus.ensureTopics([
          { topic: source, partitions: 1 },
          { topic: out, partitions: 2 },
        ]);
        await bus.publish([0, 1].map((i) => ({ topic: source, key: `k${i}`, value: Buffer.from(`in${i}`) })));
        const release = deferred<void>();
        let started = false;
        const processor = await consume(bus, {
          groupId: harness.topic('g-proc'),
          topics: [source],
          eachBatch: async (batch) => {
            started = true;
            await release.promise;
            return {
              outputs: batch.messages.map((m) => ({
                topic: out,
                key: m.key,
                value: Buffer.from(`out-of-${m.value.toString()}`),
                headers: { 'x-from': m.offset },
              })),
            };
          },
        });
        const reader = await consume(bus, { groupId: harness.topic('g-read'), topics: [out] });
        await waitUntil(() => started, timeout, 'processor started');
        await delay(300);
        expect(reader.received).toHaveLength(0);
        expect(await totalLag(processor.handle)).toBe(2);

        release.resolve();
        await waitUntil(() => reader.received.length >= 2, timeout, 'outputs consumed');
        await waitForLag(processor.handle, 0, timeout);
        await delay(300);
        expect(reader.received.map((m) => m.value.toString()).sort()).toEqual(['out-of-in0', 'out-of-in1']);
        expect(reader.received.map((m) => m.headers['x-from']).sort()).toEqual(
          processor.received.map((m) => m.offset).sort(),
        );
      },
      timeout,
    );

    itIf(!!(harness.reopen && harness.tearLastWrite))(
      'a crash in the middle of the batch commit keeps neither outputs nor commit; the retry emits the outputs once',
      async () => {
        const bus = await create();
        const source = harness.topic('src');
        const out = harness.topic('out');
        const groupId = harness.topic('g-crash');
        await bus.ensureTopics([
          { topic: source, partitions: 1 },
          { topic: out, partitions: 1 },
        ]);
        await bus.publish([0, 1].map((i) => ({ topic: source, key: 'k', value: Buffer.from(`in${i}`) })));
        const translate = async (batch: Batch): Promise<BatchResult> => ({
          outputs: batch.messages.map((m) => ({
            topic: out,
            key: m.key,
            value: Buffer.from(`out-of-${m.value.toString()}`),
          })),
        });
        const first = await consume(bus, { groupId, topics: [source], eachBatch: translate });
        await waitForLag(first.handle, 0, timeout);
        await stopAndClose(first.handle, bus);

        await harness.tearLastWrite!();

        const restarted = await reopen();
        const reader = await consume(restarted, { groupId: harness.topic('g-read'), topics: [out] });
        await delay(300);
        expect(reader.received).toHaveLength(0);
        const second = await consume(restarted, { groupId, topics: [source], eachBatch: translate });
        await waitUntil(() => reader.received.length >= 2, timeout, 'outputs consumed after the restart');
        await waitForLag(second.handle, 0, timeout);
        await delay(300);
        expect(second.received.map((m) => m.value.toString())).toEqual(['in0', 'in1']);
        expect(reader.received.map((m) => m.value.toString())).toEqual(['out-of-in0', 'out-of-in1']);
      },
      timeout,
    );

    it(
      'commitThrough commits part of a batch and the rest is delivered again',
      async () => {
        const bus = await create();
        const topic = harness.topic('partial');
        await bus.ensureTopics([{ topic, partitions: 1 }]);
        await bus.publish([0, 1, 2, 3, 4].map((i) => ({ topic, key: 'k', value: Buffer.from(`m${i}`) })));
        const calls: ConsumedMessage[][] = [];
        const { handle, received } = await consume(bus, {
          groupId: harness.topic('g-partial'),
          topics: [topic],
          eachBatch: async (batch) => {
            calls.push(batch.messages);
            // First call: only the first two messages are done (e.g. the handler ran out of time).
            return calls.length === 1 ? { outputs: [], commitThrough: batch.messages[1].offset } : { outputs: [] };
          },
        });
        await waitForLag(handle, 0, timeout);
        expect(calls[0].length).toBeGreaterThanOrEqual(3);
        expect(BigInt(calls[1][0].offset)).toBe(BigInt(calls[0][1].offset) + 1n);
        expect(received.map((m) => m.value.toString())).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
      },
      timeout,
    );

    it(
      'lag counts the messages not committed yet, per partition',
      async () => {
        const bus = await create();
        const topic = harness.topic('lag');
        await bus.ensureTopics([{ topic, partitions: 1 }]);
        await bus.publish([0, 1, 2, 3].map((i) => ({ topic, key: 'k', value: Buffer.from(`m${i}`) })));
        const gate = deferred<void>();
        let calls = 0;
        const { handle } = await consume(bus, {
          groupId: harness.topic('g-lag'),
          topics: [topic],
          eachBatch: async (batch) => {
            calls++;
            if (calls === 1) {
              await gate.promise;
              return { outputs: [], commitThrough: batch.messages[1].offset };
            }
            // Second batch: hold it (uncommitted) until the consumer stops, then report "processed nothing".
            await waitUntil(() => !batch.isActive(), timeout, 'consumer stopping');
            return { outputs: [], commitThrough: (BigInt(batch.messages[0].offset) - 1n).toString() };
          },
        });
        await waitUntil(() => calls === 1, timeout, 'handler called');
        expect(await handle.lag()).toEqual([{ topic, partition: 0, lag: 4 }]);
        gate.resolve();
        await waitForLag(handle, 2, timeout);
        expect(await handle.lag()).toEqual([{ topic, partition: 0, lag: 2 }]);
      },
      timeout,
    );

    it(
      'stop() lets the batch in progress finish, commits it and delivers nothing more',
      async () => {
        const bus = await create();
        const topic = harness.topic('stop');
        const groupId = harness.topic('g-stop');
        await bus.ensureTopics([{ topic, partitions: 1 }]);
        await bus.publish([0, 1, 2].map((i) => ({ topic, key: 'k', value: Buffer.from(`m${i}`) })));
        let inProgress = false;
        let sawInactive = false;
        const { handle, received } = await consume(bus, {
          groupId,
          topics: [topic],
          eachBatch: async (batch) => {
            inProgress = true;
            // Long work that checks isActive() and wraps up when the consumer stops.
            await waitUntil(() => !batch.isActive(), timeout, 'isActive() turns false on stop');
            sawInactive = true;
            return { outputs: [] };
          },
        });
        await waitUntil(() => inProgress, timeout, 'batch in progress');
        await handle.stop();
        handles.splice(handles.indexOf(handle), 1);
        expect(sawInactive).toBe(true);
        expect(received).toHaveLength(3);

        await bus.publish([{ topic, key: 'k', value: Buffer.from('m3') }]);
        await delay(300);
        expect(received).toHaveLength(3);

        // The finished batch was committed on the way out: the group resumes after it.
        const resumed = await consume(bus, { groupId, topics: [topic] });
        await waitUntil(() => resumed.received.length >= 1, timeout, 'the message published after stop');
        await delay(300);
        expect(resumed.received.map((m) => m.value.toString())).toEqual(['m3']);
      },
      timeout,
    );

    it(
      'publishing to (or consuming) a topic that does not exist fails clearly',
      async () => {
        const bus = await create();
        const missing = harness.topic('missing');
        const publishing = bus.publish([{ topic: missing, key: 'k', value: Buffer.from('x') }]);
        await expect(publishing).rejects.toBeInstanceOf(UnknownTopicError);
        await expect(publishing).rejects.toMatchObject({ code: 'unknown_topic', topic: missing });
        await expect(
          bus.consume({
            groupId: harness.topic('g-missing'),
            topics: [missing],
            eachBatch: async () => ({ outputs: [] }),
          }),
        ).rejects.toBeInstanceOf(UnknownTopicError);
      },
      timeout,
    );

    it(
      'ensureTopics is idempotent, keeps existing partition counts, and the bus reports ready',
      async () => {
        const bus = await create();
        const topic = harness.topic('ensure');
        await bus.ensureTopics([{ topic, partitions: 2 }]);
        await bus.ensureTopics([{ topic, partitions: 2 }]);
        await bus.publish([{ topic, key: null, value: Buffer.from('x') }]);
        expect(await bus.isReady()).toBe(true);
      },
      timeout,
    );
  });
}

// ---- helpers (exported for adapter-specific tests) ----

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function waitUntil(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await delay(20);
  }
}

export async function totalLag(handle: ConsumerHandle): Promise<number> {
  return (await handle.lag()).reduce((sum, p) => sum + p.lag, 0);
}

export async function waitForLag(handle: ConsumerHandle, lag: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = -1;
  while (Date.now() < deadline) {
    last = await totalLag(handle);
    if (last === lag) return;
    await delay(50);
  }
  throw new Error(`timed out waiting for lag ${lag} (last seen ${last})`);
}

export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(err: Error): void;
}

export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
