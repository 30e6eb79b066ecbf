import { GroupCommitter } from './group-commit';

/** A commit that waits until the test settles it, recording every group it was given. */
function manualCommits(): {
  groups: number[][];
  commit(group: readonly number[]): Promise<void>;
  ack(): void;
  fail(err: Error): void;
} {
  const groups: number[][] = [];
  const pending: Array<{ resolve(): void; reject(err: Error): void }> = [];
  return {
    groups,
    commit: (group) =>
      new Promise<void>((resolve, reject) => {
        groups.push([...group]);
        pending.push({ resolve, reject });
      }),
    ack: () => pending.shift()!.resolve(),
    fail: (err) => pending.shift()!.reject(err),
  };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('GroupCommitter', () => {
  it('commits what arrives during a commit together in the next one, in order, and settles after it', async () => {
    const commits = manualCommits();
    const applied: number[] = [];
    const committer = new GroupCommitter<number>({ commit: commits.commit, committed: (n) => applied.push(n) });
    const first = committer.submit(1);
    const rest = [2, 3, 4].map((n) => committer.submit(n));
    let firstDone = false;
    void first.then(() => (firstDone = true));
    await tick();
    expect(commits.groups).toEqual([[1]]);
    expect(firstDone).toBe(false);

    commits.ack();
    await first;
    await tick();
    expect(commits.groups).toEqual([[1], [2, 3, 4]]);
    expect(applied).toEqual([1]);
    commits.ack();
    await Promise.all(rest);
    expect(applied).toEqual([1, 2, 3, 4]);
    expect(committer.busy).toBe(false);
  });

  it("'group': a failed commit fails its own callers only; the next group still goes out", async () => {
    const commits = manualCommits();
    const committer = new GroupCommitter<number>({ commit: commits.commit, onFailure: 'group' });
    const a = committer.submit(1);
    await tick();
    const b = committer.submit(2);
    commits.fail(new Error('EIO'));
    await expect(a).rejects.toThrow('EIO');
    await tick();
    commits.ack();
    await expect(b).resolves.toBeUndefined();
    expect(commits.groups).toEqual([[1], [2]]);
  });

  it("'queue': a failed commit fails everything queued behind it too, handing all of it to `failed`", async () => {
    const commits = manualCommits();
    const failedItems: number[][] = [];
    const committer = new GroupCommitter<number>({
      commit: commits.commit,
      onFailure: 'queue',
      failed: (items) => {
        failedItems.push([...items]);
        return new Error('taken back');
      },
    });
    const a = committer.submit(1);
    await tick();
    const b = committer.submit(2);
    commits.fail(new Error('EIO'));
    await expect(a).rejects.toThrow('taken back');
    await expect(b).rejects.toThrow('taken back');
    expect(failedItems).toEqual([[1, 2]]);
    expect(commits.groups).toEqual([[1]]);
    await committer.idle();
    expect(committer.busy).toBe(false);
  });

  it('rejects only the item whose `committed` throws; bounds a group by bytes, never splitting an item', async () => {
    const commits = manualCommits();
    const committer = new GroupCommitter<number>({
      commit: commits.commit,
      committed: (n) => {
        if (n === 2) throw new Error('bug');
      },
      maxGroupBytes: 10,
      sizeOf: (n) => n,
    });
    const first = committer.submit(1);
    await tick();
    const later = [2, 7, 20].map((n) => committer.submit(n));
    commits.ack();
    await first;
    await tick();
    expect(commits.groups).toEqual([[1], [2, 7]]);
    commits.ack();
    await expect(later[0]).rejects.toThrow('bug');
    await expect(later[1]).resolves.toBeUndefined();
    await tick();
    expect(commits.groups).toEqual([[1], [2, 7], [20]]);
    commits.ack();
    await expect(later[2]).resolves.toBeUndefined();
  });

  it('runs afterCommit between commits, never during one', async () => {
    const events: string[] = [];
    const committer = new GroupCommitter<number>({
      commit: async (group) => {
        events.push(`commit ${group.join(',')}`);
        await tick();
        events.push('synced');
      },
      afterCommit: async () => {
        events.push('after');
      },
    });
    // The first submit starts a commit at once; the two behind it share the next one.
    await Promise.all([committer.submit(1), committer.submit(2), committer.submit(3)]);
    expect(events).toEqual(['commit 1', 'synced', 'after', 'commit 2,3', 'synced', 'after']);
  });
});
