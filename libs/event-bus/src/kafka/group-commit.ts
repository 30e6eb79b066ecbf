/**
 * Group commit of a member's transactions, shared by both Kafka clients: every commit waiting when the
 * transactional producer becomes free goes into ONE transaction (all their outputs, all their offsets). A
 * transaction costs the same broker round trips whatever it carries (AddPartitionsToTxn, Produce, AddOffsetsToTxn,
 * TxnOffsetCommit, EndTxn), so with several partitions in flight this divides the per-batch cost. Each batch is
 * still all-or-nothing: its outputs and its offset are in the same transaction. Two commits of one partition never
 * share a transaction (the later offset would win). When a merged transaction fails, its batches are tried one by
 * one, so one batch that can never commit (an oversized output, say) does not hold the others back.
 */
import { type OutgoingMessage } from '../event-bus.port';

/** Upper bound on the outputs of the batches merged into one transaction (bytes of values). */
export const MAX_TRANSACTION_BYTES = 8 * 1024 * 1024;

export interface TransactionCommit {
  topic: string;
  partition: number;
  outputs: OutgoingMessage[];
  /** Next offset to consume (what the group commits). */
  offset: bigint;
}

interface Pending<C> {
  commit: C;
  resolve(): void;
  reject(err: unknown): void;
}

/**
 * A member's transaction committer; a client provides the transaction itself. One transaction runs at a time; the
 * commits that arrive meanwhile go together into the next one.
 */
export abstract class TransactionCommitter<C extends TransactionCommit> {
  private pending: Array<Pending<C>> = [];
  private running = false;

  /** `committedPast`: whether the group's offset already is at or past the commit's (an ambiguous failure). */
  constructor(private readonly committedPast: (commit: C) => Promise<boolean>) {}

  /** Resolves once outputs and offset of `commit` are in a committed transaction (possibly with others). */
  commit(commit: C): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ commit, resolve, reject });
      if (!this.running) void this.drain();
    });
  }

  /** Drops the transactional producer (the member stops). */
  abstract close(): Promise<void>;

  /** Runs one transaction with the outputs and offsets of `group`; throws when it did not commit. */
  protected abstract runTransaction(group: C[]): Promise<void>;

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.pending.length > 0) {
        const group = takeDistinctPartitions(takeWithinBytes(this.pending, MAX_TRANSACTION_BYTES), this.pending);
        try {
          await this.runTransaction(group.map((p) => p.commit));
          for (const p of group) p.resolve();
        } catch (err) {
          if (group.length === 1) {
            group[0].reject(err);
            continue;
          }
          for (const p of group) {
            try {
              // An ambiguous failure (the broker committed, the answer was lost) must not publish twice.
              if (!(await this.committedPast(p.commit))) await this.runTransaction([p.commit]);
              p.resolve();
            } catch (single) {
              p.reject(single);
            }
          }
        }
      }
    } finally {
      this.running = false;
    }
  }
}

/** Takes commits from the front of `queue` while their outputs stay within `maxBytes` (always at least one). */
export function takeWithinBytes<T extends { commit: TransactionCommit }>(queue: T[], maxBytes: number): T[] {
  let bytes = 0;
  let n = 0;
  while (n < queue.length) {
    const size = queue[n].commit.outputs.reduce((sum, o) => sum + o.value.length + (o.key?.length ?? 0), 0);
    if (n > 0 && bytes + size > maxBytes) break;
    bytes += size;
    n += 1;
  }
  return queue.splice(0, n);
}

/** Keeps the first commit of each partition in `group`; later ones go back to the front of `queue`, in order. */
export function takeDistinctPartitions<T extends { commit: TransactionCommit }>(group: T[], queue: T[]): T[] {
  const seen = new Set<string>();
  const kept: T[] = [];
  const later: T[] = [];
  for (const p of group) {
    const key = `${p.commit.topic}:${p.commit.partition}`;
    if (seen.has(key)) later.push(p);
    else {
      seen.add(key);
      kept.push(p);
    }
  }
  queue.unshift(...later);
  return kept;
}
