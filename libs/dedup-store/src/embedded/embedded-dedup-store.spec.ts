import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeDedupStoreContract, randomDedupKey } from '../testing';
import { DedupStoreUnavailableError } from '../dedup-store.port';
import { EMBEDDED_LOG_FILE, EmbeddedDedupStore } from './embedded-dedup-store';

const dirs: string[] = [];
function freshDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'zp-embedded-dedup-'));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of dirs) {
    rmSync(dir, { recursive: true, force: true });
  }
});

function logLines(dir: string): string[] {
  return readFileSync(join(dir, EMBEDDED_LOG_FILE), 'utf8').split('\n').filter(Boolean);
}

/** The prototype of fs.promises' FileHandle, to observe or break fsync without touching the adapter. */
async function fileHandlePrototype(dir: string): Promise<{ datasync(): Promise<void> }> {
  const handle = await open(join(dir, 'probe'), 'w');
  await handle.close();
  return Object.getPrototypeOf(handle) as { datasync(): Promise<void> };
}

describe('contract', () => {
  const dir = freshDir();
  let clock = Date.UTC(2026, 0, 1);
  const now = (): number => clock;
  let current: EmbeddedDedupStore | undefined;

  describeDedupStoreContract('embedded', {
    create: async () => (current ??= await EmbeddedDedupStore.open({ dir, now })),
    reopen: async () => {
      await current?.close();
      current = await EmbeddedDedupStore.open({ dir, now });
      return current;
    },
    advance: (ms) => {
      clock += ms;
    },
  });
});

describe('EmbeddedDedupStore', () => {
  let clock: number;
  const now = (): number => clock;
  const open_ = (dir: string, extra: { compactMinRecords?: number } = {}): Promise<EmbeddedDedupStore> =>
    EmbeddedDedupStore.open({ dir, now, ...extra });
  const stores: EmbeddedDedupStore[] = [];
  const track = (store: EmbeddedDedupStore): EmbeddedDedupStore => {
    stores.push(store);
    return store;
  };

  beforeEach(() => {
    clock = Date.UTC(2026, 0, 1);
  });
  afterEach(async () => {
    jest.restoreAllMocks();
    await Promise.all(stores.splice(0).map((store) => store.close()));
  });

  it('has a claim on disk by the time claimMany resolves, so a crash right after loses nothing', async () => {
    const dir = freshDir();
    const store = track(await open_(dir));
    const key = randomDedupKey();

    await store.claimMany([{ key, owner: 'raw/0/1', ttlMs: 60_000 }]);
    // A second process reading the directory while the first is still running (never closed) is what a
    // restart after kill -9 sees.
    const afterCrash = track(await open_(dir));

    expect(await afterCrash.claimMany([{ key, owner: 'raw/0/2', ttlMs: 60_000 }])).toEqual([
      { status: 'duplicate', owner: 'raw/0/1' },
    ]);
  });

  it('group-commits concurrent calls into a few fsyncs instead of one each', async () => {
    const dir = freshDir();
    const store = track(await open_(dir));
    const datasync = jest.spyOn(await fileHandlePrototype(dir), 'datasync');

    await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        store.claimMany([{ key: randomDedupKey(), owner: `raw/0/${i}`, ttlMs: 60_000 }]),
      ),
    );

    expect(logLines(dir)).toHaveLength(100);
    expect(datasync.mock.calls.length).toBeGreaterThanOrEqual(1);
    expect(datasync.mock.calls.length).toBeLessThanOrEqual(3);
  });

  it('ignores a torn last line and appends cleanly after it', async () => {
    const dir = freshDir();
    const first = randomDedupKey();
    const store = await open_(dir);
    await store.claimMany([{ key: first, owner: 'raw/0/1', ttlMs: 60_000 }]);
    await store.close();
    appendFileSync(join(dir, EMBEDDED_LOG_FILE), '{"c":"half-written-rec');

    const reopened = await open_(dir);
    expect(reopened.openStats).toMatchObject({ records: 1, tornTailBytes: 22, corrupt: 0 });
    const second = randomDedupKey();
    await reopened.claimMany([{ key: second, owner: 'raw/0/2', ttlMs: 60_000 }]);
    await reopened.close();

    const again = track(await open_(dir));
    expect(again.openStats).toMatchObject({ records: 2, tornTailBytes: 0, corrupt: 0 });
    expect(
      await again.claimMany([
        { key: first, owner: 'raw/9/9', ttlMs: 60_000 },
        { key: second, owner: 'raw/9/9', ttlMs: 60_000 },
      ]),
    ).toEqual([
      { status: 'duplicate', owner: 'raw/0/1' },
      { status: 'duplicate', owner: 'raw/0/2' },
    ]);
  });

  it('skips expired entries on replay and compacts a mostly expired log on open', async () => {
    const dir = freshDir();
    const store = await open_(dir, { compactMinRecords: 10 });
    const keep = randomDedupKey();
    await store.claimMany(
      Array.from({ length: 30 }, () => ({ key: randomDedupKey(), owner: 'raw/0/1', ttlMs: 1_000 })),
    );
    await store.claimMany([{ key: keep, owner: 'raw/0/2', ttlMs: 60_000 }]);
    await store.offerToken(keep, { token: 'kept', receivedAt: 5 }, 60_000);
    await store.close();

    clock += 5_000;
    const reopened = track(await open_(dir, { compactMinRecords: 10 }));

    expect(reopened.openStats).toMatchObject({ records: 32, live: 2, compacted: true });
    expect(logLines(dir)).toHaveLength(2);
    expect(await reopened.claimMany([{ key: keep, owner: 'raw/0/3', ttlMs: 60_000 }])).toEqual([
      { status: 'duplicate', owner: 'raw/0/2' },
    ]);
    expect(await reopened.getToken(keep)).toEqual({ token: 'kept', receivedAt: 5 });
  });

  it('compacts while running, so a long-lived process does not grow its log without bound', async () => {
    const dir = freshDir();
    const store = track(await open_(dir, { compactMinRecords: 50 }));
    const keep = randomDedupKey();
    await store.claimMany([{ key: keep, owner: 'raw/0/keep', ttlMs: 3_600_000 }]);

    for (let round = 0; round < 20; round += 1) {
      await store.claimMany(
        Array.from({ length: 20 }, () => ({ key: randomDedupKey(), owner: 'raw/0/1', ttlMs: 1_000 })),
      );
      clock += 2_000;
    }

    // 401 records were written; compaction keeps the file near the live set (at most ~2x the threshold).
    expect(logLines(dir).length).toBeLessThanOrEqual(100);
    await store.close();
    const reopened = track(await open_(dir));
    expect(await reopened.claimMany([{ key: keep, owner: 'raw/0/other', ttlMs: 60_000 }])).toEqual([
      { status: 'duplicate', owner: 'raw/0/keep' },
    ]);
  });

  it('takes a claim back when its fsync fails, so nobody acts on a claim that is not on disk', async () => {
    const dir = freshDir();
    const store = track(await open_(dir));
    const key = randomDedupKey();
    jest
      .spyOn(await fileHandlePrototype(dir), 'datasync')
      .mockRejectedValueOnce(Object.assign(new Error('simulated I/O error'), { code: 'EIO' }));

    await expect(store.claimMany([{ key, owner: 'raw/0/1', ttlMs: 60_000 }])).rejects.toBeInstanceOf(
      DedupStoreUnavailableError,
    );

    expect(await store.claimMany([{ key, owner: 'raw/0/2', ttlMs: 60_000 }])).toEqual([{ status: 'claimed' }]);
    await store.close();
    const reopened = track(await open_(dir));
    expect(await reopened.claimMany([{ key, owner: 'raw/0/3', ttlMs: 60_000 }])).toEqual([
      { status: 'duplicate', owner: 'raw/0/2' },
    ]);
    expect(logLines(dir)).toHaveLength(1);
  });

  it('does not bring back an older token after a restart when the fresher one that replaced it expired', async () => {
    const dir = freshDir();
    const key = randomDedupKey();
    const store = await open_(dir);
    await store.offerToken(key, { token: 'older', receivedAt: 1 }, 60_000);
    await store.offerToken(key, { token: 'fresher', receivedAt: 2 }, 1_000);
    clock += 2_000;
    expect(await store.getToken(key)).toBeNull();
    await store.close();

    const reopened = track(await open_(dir));

    expect(await reopened.getToken(key)).toBeNull();
  });

  it('keeps leases in memory with their TTL (one process holds them)', async () => {
    const dir = freshDir();
    const store = track(await open_(dir));

    expect(await store.acquireLease('file-1', 'a', 1_000)).toBe(true);
    expect(await store.acquireLease('file-1', 'b', 1_000)).toBe(false);
    clock += 1_001;
    expect(await store.acquireLease('file-1', 'b', 1_000)).toBe(true);
  });

  it('writes the log readable by its owner only (it holds download tokens)', async () => {
    const dir = freshDir();
    const store = track(await open_(dir));
    await store.offerToken(randomDedupKey(), { token: 'secret-download-token', receivedAt: 1 }, 60_000);

    const handle = await open(join(dir, EMBEDDED_LOG_FILE), 'r');
    const mode = (await handle.stat()).mode & 0o777;
    await handle.close();
    expect(mode).toBe(0o600);
  });

  it('refuses calls after close with DedupStoreUnavailableError', async () => {
    const store = await open_(freshDir());
    await store.close();

    await expect(store.getToken('k')).rejects.toBeInstanceOf(DedupStoreUnavailableError);
    expect(await store.isReady()).toBe(false);
  });
});
