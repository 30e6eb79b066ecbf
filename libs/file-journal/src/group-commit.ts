/**
 * Group commit, written once for every embedded adapter: callers hand over items; everything that arrives while
 * a write + fsync is in flight goes out together in the next one, so N concurrent callers cost about one fsync
 * instead of N. One commit runs at a time, in submission order, so file order = submission order. A caller's
 * promise settles only after the commit that carried its item (durable before ack).
 *
 * The two ways a failure spreads are a choice of the user, because they rest on different guarantees:
 * - `'group'` (the event log: write-ahead, applied after the fsync): only the failed group's callers fail; the
 *   items behind it were not decided on top of it and go out in the next commit.
 * - `'queue'` (the dedup store: decided in memory before the write): everything queued behind the failed group
 *   fails with it, because those decisions rest on changes that are not on disk; `failed` takes them back.
 */
export interface GroupCommitOptions<T> {
  /** Makes one group durable (one write, one fsync). Throwing fails the group (and, with `'queue'`, the rest). */
  commit(group: readonly T[]): Promise<void>;
  /** Runs per item, in order, once its group is durable; a throw rejects that item alone. */
  committed?(item: T): void;
  /** The error callers see for a failed commit; receives every failed item, oldest first. */
  failed?(items: readonly T[], err: unknown): Error;
  onFailure?: 'group' | 'queue';
  /** Bound on one group (a single larger item still goes, alone), so one write does not pin unbounded memory. */
  maxGroupBytes?: number;
  sizeOf?(item: T): number;
  /** After each commit, before the next: work that must not interleave with a write (compaction). */
  afterCommit?(): Promise<void>;
}

interface Pending<T> {
  item: T;
  resolve(): void;
  reject(err: Error): void;
}

export class GroupCommitter<T> {
  private queue: Array<Pending<T>> = [];
  private running: Promise<void> | undefined;

  constructor(private readonly options: GroupCommitOptions<T>) {}

  /** Resolves once `item` and everything submitted before it are durable. */
  submit(item: T): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.running ??= this.run();
    });
  }

  /** True while items are queued or a commit is in flight. */
  get busy(): boolean {
    return this.running !== undefined;
  }

  /** Resolves once nothing is queued or in flight (for close()). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private async run(): Promise<void> {
    while (this.queue.length > 0) {
      const group = this.queue.splice(0, this.groupLength());
      try {
        await this.options.commit(group.map((p) => p.item));
      } catch (err) {
        const failed = this.options.onFailure === 'queue' ? group.concat(this.queue.splice(0)) : group;
        const error =
          this.options.failed?.(
            failed.map((p) => p.item),
            err,
          ) ?? (err instanceof Error ? err : new Error(String(err)));
        for (const p of failed) p.reject(error);
        await this.options.afterCommit?.();
        continue;
      }
      for (const p of group) {
        try {
          this.options.committed?.(p.item);
          p.resolve();
        } catch (err) {
          p.reject(err instanceof Error ? err : new Error(String(err)));
        }
      }
      await this.options.afterCommit?.();
    }
    // Cleared synchronously with the emptiness check above, so a submit right after starts a new loop instead
    // of queueing behind one that has already finished.
    this.running = undefined;
  }

  private groupLength(): number {
    const { maxGroupBytes, sizeOf } = this.options;
    if (maxGroupBytes === undefined || !sizeOf) return this.queue.length;
    let bytes = 0;
    let count = 0;
    while (count < this.queue.length && (count === 0 || bytes + sizeOf(this.queue[count].item) <= maxGroupBytes)) {
      bytes += sizeOf(this.queue[count].item);
      count++;
    }
    return count;
  }
}
