import { GroupCommitQueue, type TransactionCommit } from './group-commit';

const commit = (partition: number, offset: number, bytes = 1): TransactionCommit => ({
  topic: 't',
  partition,
  outputs: [{ topic: 'out', key: null, value: Buffer.alloc(bytes) }],
  offset: BigInt(offset),
});

describe('GroupCommitQueue (the transaction committer both Kafka clients share)', () => {
  it('merges the commits waiting while a transaction runs into the next one, one per partition', async () => {
    const transactions: string[][] = [];
    const queue = new GroupCommitQueue({
      runTransaction: async (group) => {
        transactions.push(group.map((c) => `${c.partition}@${c.offset}`));
      },
      committedPast: async () => false,
    });
    await Promise.all([
      queue.commit(commit(0, 1)),
      queue.commit(commit(1, 5)),
      queue.commit(commit(2, 9)),
      queue.commit(commit(1, 6)),
    ]);
    expect(transactions).toEqual([['0@1'], ['1@5', '2@9'], ['1@6']]);
  });

  it('retries a failed merged transaction batch by batch, skipping what committed after all', async () => {
    const transactions: string[][] = [];
    const queue = new GroupCommitQueue({
      runTransaction: async (group) => {
        transactions.push(group.map((c) => String(c.partition)));
        if (group.length > 1 || group[0].partition === 2) throw new Error('oversized');
      },
      committedPast: async (c) => c.partition === 1,
    });
    const first = queue.commit(commit(0, 1));
    const results = await Promise.allSettled([queue.commit(commit(1, 1)), queue.commit(commit(2, 1))]);
    await first;
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected']);
    expect(transactions).toEqual([['0'], ['1', '2'], ['2']]);
  });
});
