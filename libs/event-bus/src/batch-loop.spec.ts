import { COMMIT_ATTEMPTS_WHEN_STOPPING, type BatchCommit, type BatchLoopDeps, runBatch } from './batch-loop';
import { silentEventBusLogger } from './event-bus.logger';
import { type Batch, type BatchResult, type ConsumedMessage } from './event-bus.port';

const message = (offset: number): ConsumedMessage => ({
  topic: 't',
  partition: 0,
  offset: String(offset),
  key: null,
  value: Buffer.from(`m${offset}`),
  headers: {},
  timestamp: 0,
});

/** A fake consumer around the shared loop: records handler calls and commits, scripted failures. */
function harness(handler: (batch: Batch, call: number) => Promise<BatchResult> | BatchResult) {
  const seen: string[][] = [];
  const deps: BatchLoopDeps = {
    groupId: 'g',
    eachBatch: async (batch) => {
      seen.push(batch.messages.map((m) => m.offset));
      return handler(batch, seen.length);
    },
    logger: silentEventBusLogger,
    backoff: { initialMs: 1, maxMs: 1 },
    signal: new AbortController().signal,
  };
  const batch: Batch = {
    topic: 't',
    partition: 0,
    messages: [message(10), message(11), message(12)],
    heartbeat: async () => undefined,
    isActive: () => true,
  };
  return { deps, batch, seen };
}

const commitOf = (overrides: Partial<BatchCommit> & { run: BatchCommit['run'] }): BatchCommit => ({
  stopping: () => false,
  ...overrides,
});

describe('runBatch (the batch loop every consumer shares)', () => {
  it('hands the SAME messages again after a throw, and commits only the result that succeeded', async () => {
    const { deps, batch, seen } = harness((_, call) => {
      if (call < 3) throw new Error('redis down');
      return { outputs: [{ topic: 'out', key: 'k', value: Buffer.from('x') }] };
    });
    const committed: unknown[] = [];
    const handled = await runBatch(deps, {
      batch,
      isActive: () => true,
      prepare: (result, through) => ({ outputs: result.outputs.length, through }),
      commit: (plan) => commitOf({ run: async () => void committed.push(plan) }),
    });
    expect(seen).toEqual([
      ['10', '11', '12'],
      ['10', '11', '12'],
      ['10', '11', '12'],
    ]);
    expect(committed).toEqual([{ outputs: 1, through: 12n }]);
    expect(handled?.through).toBe(12n);
  });

  it('validates commitThrough: outside the batch or not an offset counts as a throw, first - 1 is "none"', async () => {
    const answers = ['13', 'abc', '8', '9'];
    const { deps, batch, seen } = harness((_, call) => ({ outputs: [], commitThrough: answers[call - 1] }));
    const committed: bigint[] = [];
    const handled = await runBatch(deps, {
      batch,
      isActive: () => true,
      prepare: (_, through) => through,
      commit: (through) => commitOf({ run: async () => void committed.push(through) }),
    });
    expect(seen).toHaveLength(4);
    expect(committed).toEqual([9n]);
    expect(handled?.through).toBe(9n);
  });

  it('treats a throw of prepare (an output topic that does not exist) like a handler throw', async () => {
    const { deps, batch, seen } = harness(() => ({ outputs: [] }));
    let prepared = 0;
    const committed: number[] = [];
    await runBatch(deps, {
      batch,
      isActive: () => true,
      prepare: () => {
        if (++prepared === 1) throw new Error('unknown topic');
        return prepared;
      },
      commit: (plan) => commitOf({ run: async () => void committed.push(plan) }),
    });
    expect(seen).toHaveLength(2);
    expect(committed).toEqual([2]);
  });

  it('does not call the handler for a batch that is no longer ours, nor again once it stops being ours', async () => {
    const idle = harness(() => ({ outputs: [] }));
    const run = jest.fn(async () => undefined);
    const notOurs = await runBatch(idle.deps, {
      batch: idle.batch,
      isActive: () => false,
      prepare: () => 1,
      commit: () => commitOf({ run }),
    });
    expect(notOurs).toBeNull();
    expect(idle.seen).toHaveLength(0);

    let active = true;
    const failing = harness(() => {
      active = false; // a rebalance while the handler ran
      throw new Error('boom');
    });
    const givenUp = await runBatch(failing.deps, {
      batch: failing.batch,
      isActive: () => active,
      prepare: () => 1,
      commit: () => commitOf({ run }),
    });
    expect(givenUp).toBeNull();
    expect(failing.seen).toHaveLength(1);
    expect(run).not.toHaveBeenCalled();
  });

  it('retries a failed commit with the same plan without redoing the work', async () => {
    const { deps, batch, seen } = harness(() => ({ outputs: [] }));
    let attempts = 0;
    const plans: number[] = [];
    const handled = await runBatch(deps, {
      batch,
      isActive: () => true,
      prepare: () => 7,
      commit: (plan) =>
        commitOf({
          run: async () => {
            plans.push(plan);
            if (++attempts < 3) throw new Error('broker unavailable');
          },
        }),
    });
    expect(seen).toHaveLength(1);
    expect(plans).toEqual([7, 7, 7]);
    expect(handled).not.toBeNull();
  });

  it('asks whether a failed commit went through after all before trying again (no double publish)', async () => {
    const { deps, batch } = harness(() => ({ outputs: [] }));
    const run = jest.fn(async () => {
      throw new Error('answer lost');
    });
    const committedAfterAll = jest.fn(async () => true);
    const handled = await runBatch(deps, {
      batch,
      isActive: () => true,
      prepare: () => 1,
      commit: () => commitOf({ run, committedAfterAll }),
    });
    expect(handled).not.toBeNull();
    expect(run).toHaveBeenCalledTimes(1);
    expect(committedAfterAll).toHaveBeenCalledTimes(1);
  });

  it(
    'gives the batch up when fenced, when the adapter refuses an ' + 'attempt, or after a few tries while stopping',
    async () => {
      const { deps, batch } = harness(() => ({ outputs: [] }));
      const fail = async (): Promise<void> => {
        throw new Error('fenced');
      };
      const fenced = jest.fn(fail);
      expect(
        await runBatch(deps, {
          batch,
          isActive: () => true,
          prepare: () => 1,
          commit: () => commitOf({ run: fenced, isFenced: () => true }),
        }),
      ).toBeNull();
      expect(fenced).toHaveBeenCalledTimes(1);

      const refused = jest.fn(fail);
      expect(
        await runBatch(deps, {
          batch,
          isActive: () => true,
          prepare: () => 1,
          commit: () => commitOf({ run: refused, mayAttempt: (attempt) => attempt < 2 }),
        }),
      ).toBeNull();
      expect(refused).toHaveBeenCalledTimes(1);

      const stopping = jest.fn(fail);
      expect(
        await runBatch(deps, {
          batch,
          isActive: () => true,
          prepare: () => 1,
          commit: () => commitOf({ run: stopping, stopping: () => true }),
        }),
      ).toBeNull();
      expect(stopping).toHaveBeenCalledTimes(COMMIT_ATTEMPTS_WHEN_STOPPING);
    },
  );

  it('commits nothing when prepare says there is nothing to commit', async () => {
    const { deps, batch } = harness(() => ({ outputs: [], commitThrough: '9' }));
    const run = jest.fn(async () => undefined);
    const handled = await runBatch(deps, {
      batch,
      isActive: () => true,
      prepare: () => null,
      commit: () => commitOf({ run }),
    });
    expect(handled).toEqual({ result: { outputs: [], commitThrough: '9' }, through: 9n, plan: null });
    expect(run).not.toHaveBeenCalled();
  });
});
