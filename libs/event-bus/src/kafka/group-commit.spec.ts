import { TransactionCommitter, type TransactionCommit } from './group-commit';

/** A committer whose transactions are a function: what each transaction held, in order. */
class FakeCommitter extends TransactionCommitter<TransactionCommit> {
  readonly transactions: string[][] = [];

  constructor(
    private readonly fails: (group: TransactionCommit[]) => boolean,
    committedPast: (c: TransactionCommit) => boolean,
  ) {
    super(async (c) => committedPast(c));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  protected async runTransaction(group: TransactionCommit[]): Promise<void> {
    this.transactions.push(group.map((c) => `${c.partition}@${c.offset}`));
    if (this.fails(group)) throw new Error('transaction failed');
  }
}

const commit = (partition: number, offset: number, bytes = 1): TransactionCommit => ({
  topic: 't',
  partition,
  outputs: [{ topic: 'out', key: null, value: Buffer.alloc(bytes) }],
  offset: BigInt(offset),
});

describe('TransactionCommitter (the group commit the transaction committers of both Kafka clients share)', () => {
  it('merges the commits waiting while a transaction runs into the next one, one per partition', async () => {
    const queue = new FakeCommitter(
      () => false,
      () => false,
    );
    await Promise.all([
      queue.commit(commit(0, 1)),
      queue.commit(commit(1, 5)),
      queue.commit(commit(2, 9)),
      queue.commit(commit(1, 6)),
    ]);
    expect(queue.transactions).toEqual([['0@1'], ['1@5', '2@9'], ['1@6']]);
  });

  it('retries a failed merged transaction batch by batch, skipping what committed after all', async () => {
    const queue = new FakeCommitter(
      (group) => group.length > 1 || group[0].partition === 2,
      (c) => c.partition === 1,
    );
    const first = queue.commit(commit(0, 1));
    const results = await Promise.allSettled([queue.commit(commit(1, 1)), queue.commit(commit(2, 1))]);
    await first;
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected']);
    expect(queue.transactions).toEqual([['0@1'], ['1@1', '2@1'], ['2@1']]);
  });
});
