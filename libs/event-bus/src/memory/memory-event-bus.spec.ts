import { BusUnavailableError } from '../event-bus.port';
import { silentEventBusLogger } from '../event-bus.logger';
import { describeEventBusContract, waitUntil } from '../testing';
import { MemoryEventBus } from './memory-event-bus';

let last: MemoryEventBus | undefined;
let counter = 0;

describeEventBusContract('memory', {
  create: async () => (last = new MemoryEventBus({ logger: silentEventBusLogger })),
  reopen: async () => {
    if (!last) throw new Error('nothing to reopen');
    return (last = last.reopen());
  },
  topic: (prefix) => `${prefix}-${++counter}`,
  timeoutMs: 10_000,
});

describe('MemoryEventBus', () => {
  it('refuses a second active consumer for the same group, and accepts one again after stop', async () => {
    const bus = new MemoryEventBus({ logger: silentEventBusLogger });
    await bus.ensureTopics([{ topic: 't', partitions: 2 }]);
    const options = { groupId: 'g', topics: ['t'], eachBatch: async () => ({ outputs: [] }) };
    const first = await bus.consume(options);
    await expect(bus.consume(options)).rejects.toThrow(/already has an active consumer/);
    await first.stop();
    const again = await bus.consume(options);
    await again.stop();
    await bus.close();
  });

  it("appends nothing for a caller whose deadline has passed (the publish's signal already aborted)", async () => {
    const bus = new MemoryEventBus({ logger: silentEventBusLogger });
    await bus.ensureTopics([{ topic: 't', partitions: 1 }]);
    const late = bus.publish([{ topic: 't', key: 'k', value: Buffer.from('late') }], { signal: AbortSignal.abort() });
    await expect(late).rejects.toBeInstanceOf(BusUnavailableError);
    await bus.publish([{ topic: 't', key: 'k', value: Buffer.from('on time') }], {
      signal: new AbortController().signal,
    });
    const seen: string[] = [];
    const handle = await bus.consume({
      groupId: 'g',
      topics: ['t'],
      eachBatch: async (batch) => {
        seen.push(...batch.messages.map((m) => m.value.toString()));
        return { outputs: [] };
      },
    });
    await waitUntil(() => seen.length > 0, 10_000, 'the on-time message');
    await handle.stop();
    await bus.close();
    expect(seen).toEqual(['on time']);
  });

  it('delivers null-key messages round robin over the partitions', async () => {
    const bus = new MemoryEventBus({ logger: silentEventBusLogger });
    await bus.ensureTopics([{ topic: 't', partitions: 3 }]);
    await bus.publish([0, 1, 2, 3, 4, 5].map((i) => ({ topic: 't', key: null, value: Buffer.from(String(i)) })));
    const partitions: number[] = [];
    const handle = await bus.consume({
      groupId: 'g',
      topics: ['t'],
      eachBatch: async (batch) => {
        partitions.push(...batch.messages.map((m) => m.partition));
        return { outputs: [] };
      },
    });
    await waitUntil(() => partitions.length === 6, 5_000, 'six messages');
    expect(partitions.filter((p) => p === 0)).toHaveLength(2);
    expect(partitions.filter((p) => p === 1)).toHaveLength(2);
    await handle.stop();
    await bus.close();
  });

  it('starts a new group at the end when fromBeginning is false', async () => {
    const bus = new MemoryEventBus({ logger: silentEventBusLogger });
    await bus.ensureTopics([{ topic: 't', partitions: 1 }]);
    await bus.publish([{ topic: 't', key: 'k', value: Buffer.from('old') }]);
    const seen: string[] = [];
    const handle = await bus.consume({
      groupId: 'g',
      topics: ['t'],
      fromBeginning: false,
      eachBatch: async (batch) => {
        seen.push(...batch.messages.map((m) => m.value.toString()));
        return { outputs: [] };
      },
    });
    await bus.publish([{ topic: 't', key: 'k', value: Buffer.from('new') }]);
    await waitUntil(() => seen.length === 1, 5_000, 'the new message');
    expect(seen).toEqual(['new']);
    await handle.stop();
    await bus.close();
  });

  it('treats a commitThrough outside the batch as a failure and redelivers instead of skipping', async () => {
    const bus = new MemoryEventBus({ logger: silentEventBusLogger, retryBackoff: { initialMs: 5, maxMs: 10 } });
    await bus.ensureTopics([{ topic: 't', partitions: 1 }]);
    await bus.publish([0, 1].map((i) => ({ topic: 't', key: 'k', value: Buffer.from(String(i)) })));
    const firstOffsets: string[] = [];
    const handle = await bus.consume({
      groupId: 'g',
      topics: ['t'],
      eachBatch: async (batch) => {
        firstOffsets.push(batch.messages[0].offset);
        return firstOffsets.length === 1 ? { outputs: [], commitThrough: '99' } : { outputs: [] };
      },
    });
    await waitUntil(() => firstOffsets.length >= 2, 5_000, 'redelivery');
    expect(firstOffsets.slice(0, 2)).toEqual(['0', '0']);
    await handle.stop();
    await bus.close();
  });

  it('maxBatchSize bounds the messages handed to one call', async () => {
    const bus = new MemoryEventBus({ logger: silentEventBusLogger });
    await bus.ensureTopics([{ topic: 't', partitions: 1 }]);
    await bus.publish(Array.from({ length: 7 }, (_, i) => ({ topic: 't', key: 'k', value: Buffer.from(String(i)) })));
    const sizes: number[] = [];
    const handle = await bus.consume({
      groupId: 'g',
      topics: ['t'],
      maxBatchSize: 3,
      eachBatch: async (batch) => {
        sizes.push(batch.messages.length);
        return { outputs: [] };
      },
    });
    await waitUntil(() => sizes.reduce((a, b) => a + b, 0) === 7, 5_000, 'seven messages');
    expect(sizes).toEqual([3, 3, 1]);
    await handle.stop();
    await bus.close();
  });
});
