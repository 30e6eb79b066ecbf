// The one contract every DedupStore adapter keeps (STYLE §3.5). Memory and embedded run it in the unit
// tier, Redis in test/integration against the real server. Jest is imported explicitly so this file also
// type-checks in the production build, where jest's globals are not declared.
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from '@jest/globals';
import type { ClaimResult, DedupStore } from '../dedup-store.port';

export interface DedupStoreHarness {
  /**
   * A store over the harness's backing data. Every store one harness returns sees the same data, like
   * two pods sharing one Redis (a single-process adapter may return the same instance). Tests use fresh
   * keys, so data may be shared across tests. The suite closes what it gets, once, after all tests.
   */
  create(): Promise<DedupStore>;
  /** A restart: stop the current store (as a crash or a shutdown would) and open a new one on the same data. */
  reopen?(): Promise<DedupStore>;
  /** Moves the adapter's clock forward; without it the suite waits in real time, so TTLs are kept small. */
  advance?(ms: number): Promise<void> | void;
}

/** A realistic canonical key digest (SPEC §6): 64 hex characters. */
export function randomDedupKey(): string {
  return randomBytes(32).toString('hex');
}

/** A realistic claim owner: the raw delivery's `topic/partition/offset`. */
export function randomOwner(): string {
  return `zoom.webhooks.raw/${randomBytes(1)[0]! % 12}/${randomBytes(4).readUInt32BE()}`;
}

const LONG_TTL = 60_000;
/** Short enough to wait for in real time against Redis, long enough not to expire during a few calls. */
const SHORT_TTL = 400;

export function describeDedupStoreContract(name: string, harness: DedupStoreHarness): void {
  describe(`DedupStore contract: ${name}`, () => {
    const opened = new Set<DedupStore>();
    const track = (store: DedupStore): DedupStore => {
      opened.add(store);
      return store;
    };
    const open = async (): Promise<DedupStore> => track(await harness.create());
    const pass = async (ms: number): Promise<void> => {
      if (harness.advance) {
        await harness.advance(ms);
      } else {
        await sleep(ms);
      }
    };

    afterAll(async () => {
      await Promise.allSettled([...opened].map((store) => store.close()));
    });

    describe('claims', () => {
      it('lets the first claim win and reports a second owner as a duplicate naming the first', async () => {
        const store = await open();
        const key = randomDedupKey();
        const first = randomOwner();
        const second = `${first}-other`;

        expect(await store.claimMany([{ key, owner: first, ttlMs: LONG_TTL }])).toEqual([{ status: 'claimed' }]);
        expect(await store.claimMany([{ key, owner: second, ttlMs: LONG_TTL }])).toEqual([
          { status: 'duplicate', owner: first },
        ]);
      });

      it('tells the same owner its claim is its own (a redelivery after a crash must emit again)', async () => {
        const store = await open();
        const key = randomDedupKey();
        const owner = randomOwner();

        await store.claimMany([{ key, owner, ttlMs: LONG_TTL }]);
        expect(await store.claimMany([{ key, owner, ttlMs: LONG_TTL }])).toEqual([{ status: 'owned' }]);
      });

      it('lets a key be claimed anew once its TTL has passed', async () => {
        const store = await open();
        const key = randomDedupKey();

        await store.claimMany([{ key, owner: 'a/0/1', ttlMs: SHORT_TTL }]);
        expect(await store.claimMany([{ key, owner: 'b/0/2', ttlMs: SHORT_TTL }])).toEqual([
          { status: 'duplicate', owner: 'a/0/1' },
        ]);
        await pass(SHORT_TTL + 200);
        expect(await store.claimMany([{ key, owner: 'b/0/2', ttlMs: LONG_TTL }])).toEqual([{ status: 'claimed' }]);
        expect(await store.claimMany([{ key, owner: 'a/0/1', ttlMs: LONG_TTL }])).toEqual([
          { status: 'duplicate', owner: 'b/0/2' },
        ]);
      });

      it('answers claimMany in request order with mixed results', async () => {
        const store = await open();
        const mine = randomDedupKey();
        const theirs = randomDedupKey();
        const fresh = randomDedupKey();
        await store.claimMany([
          { key: mine, owner: 'raw/1/10', ttlMs: LONG_TTL },
          { key: theirs, owner: 'raw/2/20', ttlMs: LONG_TTL },
        ]);

        const results = await store.claimMany([
          { key: theirs, owner: 'raw/1/10', ttlMs: LONG_TTL },
          { key: fresh, owner: 'raw/1/10', ttlMs: LONG_TTL },
          { key: mine, owner: 'raw/1/10', ttlMs: LONG_TTL },
        ]);

        expect(results).toEqual([
          { status: 'duplicate', owner: 'raw/2/20' },
          { status: 'claimed' },
          { status: 'owned' },
        ]);
      });

      it('peekClaims reports live owners in request order without claiming, and forgets expired claims', async () => {
        const store = await open();
        const held = randomDedupKey();
        const free = randomDedupKey();
        const brief = randomDedupKey();
        await store.claimMany([
          { key: held, owner: 'stored', ttlMs: LONG_TTL },
          { key: brief, owner: 'stored', ttlMs: SHORT_TTL },
        ]);

        expect(await store.peekClaims([free, held])).toEqual([null, 'stored']);
        // Peeking claimed nothing: the free key can still be claimed by anyone.
        expect(await store.claimMany([{ key: free, owner: 'raw/9/9', ttlMs: LONG_TTL }])).toEqual([
          { status: 'claimed' },
        ]);
        expect(await store.peekClaims([])).toEqual([]);
        await pass(SHORT_TTL + 50);
        expect(await store.peekClaims([brief, held])).toEqual([null, 'stored']);
      });

      it('claims a key that appears twice in one call for the first request only', async () => {
        const store = await open();
        const key = randomDedupKey();

        const results = await store.claimMany([
          { key, owner: 'raw/0/1', ttlMs: LONG_TTL },
          { key, owner: 'raw/3/7', ttlMs: LONG_TTL },
        ]);

        expect(results).toEqual([{ status: 'claimed' }, { status: 'duplicate', owner: 'raw/0/1' }]);
      });

      it('answers an empty claimMany with an empty list', async () => {
        const store = await open();
        expect(await store.claimMany([])).toEqual([]);
      });

      it('gives every key exactly one winner when two instances claim the same keys at once', async () => {
        const [a, b] = [await open(), await open()];
        const keys = Array.from({ length: 200 }, () => randomDedupKey());

        // Opposite orders, so each instance wins some keys whatever the scheduling.
        const [fromA, fromB] = await Promise.all([
          a.claimMany(keys.map((key) => ({ key, owner: 'pod-a/0/1', ttlMs: LONG_TTL }))),
          b.claimMany([...keys].reverse().map((key) => ({ key, owner: 'pod-b/0/1', ttlMs: LONG_TTL }))),
        ]);
        fromB.reverse();

        keys.forEach((_key, i) => {
          const pair: ClaimResult[] = [fromA[i]!, fromB[i]!];
          const winners = pair.filter((r) => r.status === 'claimed');
          expect(winners).toHaveLength(1);
          const winner = fromA[i]!.status === 'claimed' ? 'pod-a/0/1' : 'pod-b/0/1';
          expect(pair).toContainEqual({ status: 'duplicate', owner: winner });
        });
      });

      it('rejects a claim without a positive integer TTL', async () => {
        const store = await open();
        await expect(store.claimMany([{ key: randomDedupKey(), owner: 'raw/0/1', ttlMs: 0 }])).rejects.toThrow(
          RangeError,
        );
      });
    });

    describe('tokens', () => {
      it('keeps the freshest token whatever order the offers arrive in', async () => {
        const store = await open();
        const key = randomDedupKey();

        await store.offerToken(key, { token: 'token-t1000', receivedAt: 1_000 }, LONG_TTL);
        await store.offerToken(key, { token: 'token-t500', receivedAt: 500 }, LONG_TTL);
        expect(await store.getToken(key)).toEqual({ token: 'token-t1000', receivedAt: 1_000 });

        await store.offerToken(key, { token: 'token-t2000', receivedAt: 2_000 }, LONG_TTL);
        expect(await store.getToken(key)).toEqual({ token: 'token-t2000', receivedAt: 2_000 });
      });

      it('returns null for a key without a token', async () => {
        const store = await open();
        expect(await store.getToken(randomDedupKey())).toBeNull();
      });

      it('forgets a token after its TTL', async () => {
        const store = await open();
        const key = randomDedupKey();

        await store.offerToken(key, { token: 'short-lived', receivedAt: 1 }, SHORT_TTL);
        await pass(SHORT_TTL + 200);

        expect(await store.getToken(key)).toBeNull();
      });
    });

    describe('leases', () => {
      it('grants a lease to one owner at a time and lets the holder re-acquire it', async () => {
        const store = await open();
        const lease = `file-${randomDedupKey()}`;

        expect(await store.acquireLease(lease, 'uploader-a', LONG_TTL)).toBe(true);
        expect(await store.acquireLease(lease, 'uploader-b', LONG_TTL)).toBe(false);
        expect(await store.acquireLease(lease, 'uploader-a', LONG_TTL)).toBe(true);
      });

      it('renews a lease for its owner only', async () => {
        const store = await open();
        const lease = `file-${randomDedupKey()}`;
        await store.acquireLease(lease, 'uploader-a', LONG_TTL);

        expect(await store.renewLease(lease, 'uploader-b', LONG_TTL)).toBe(false);
        expect(await store.renewLease(lease, 'uploader-a', LONG_TTL)).toBe(true);
        expect(await store.renewLease(`file-${randomDedupKey()}`, 'uploader-a', LONG_TTL)).toBe(false);
      });

      it("never releases someone else's lease", async () => {
        const store = await open();
        const lease = `file-${randomDedupKey()}`;
        await store.acquireLease(lease, 'uploader-a', LONG_TTL);

        await store.releaseLease(lease, 'uploader-b');
        expect(await store.acquireLease(lease, 'uploader-c', LONG_TTL)).toBe(false);

        await store.releaseLease(lease, 'uploader-a');
        expect(await store.acquireLease(lease, 'uploader-c', LONG_TTL)).toBe(true);
      });

      it('lets a lease expire, after which the former owner can neither renew nor release it', async () => {
        const store = await open();
        const lease = `file-${randomDedupKey()}`;
        await store.acquireLease(lease, 'uploader-a', SHORT_TTL);

        await pass(SHORT_TTL + 200);

        expect(await store.acquireLease(lease, 'uploader-b', LONG_TTL)).toBe(true);
        expect(await store.renewLease(lease, 'uploader-a', LONG_TTL)).toBe(false);
        await store.releaseLease(lease, 'uploader-a');
        expect(await store.acquireLease(lease, 'uploader-c', LONG_TTL)).toBe(false);
      });

      it('keeps a renewed lease past its original expiry', async () => {
        const store = await open();
        const lease = `file-${randomDedupKey()}`;
        await store.acquireLease(lease, 'uploader-a', SHORT_TTL);

        await pass(SHORT_TTL * 0.6);
        expect(await store.renewLease(lease, 'uploader-a', SHORT_TTL)).toBe(true);
        await pass(SHORT_TTL * 0.6);

        expect(await store.acquireLease(lease, 'uploader-b', LONG_TTL)).toBe(false);
      });
    });

    describe('fenced leases', () => {
      it('grants a fenced lease to one owner at a time; the holder re-acquiring keeps its token', async () => {
        const store = await open();
        const name = `rtms-${randomDedupKey()}`;

        const a = await store.acquireFencedLease(name, 'pod-a', LONG_TTL);
        expect(a).toEqual({ name, owner: 'pod-a', token: expect.any(Number) });
        expect(await store.acquireFencedLease(name, 'pod-b', LONG_TTL)).toBeNull();
        expect(await store.acquireFencedLease(name, 'pod-a', LONG_TTL)).toEqual(a);
      });

      it('gives every new holder a greater token than any holder before it', async () => {
        const store = await open();
        const name = `rtms-${randomDedupKey()}`;
        const a = (await store.acquireFencedLease(name, 'pod-a', LONG_TTL))!;
        await store.releaseFencedLease(a);
        const b = (await store.acquireFencedLease(name, 'pod-b', SHORT_TTL))!;
        expect(b.token).toBeGreaterThan(a.token);

        await pass(SHORT_TTL + 200);
        const c = (await store.acquireFencedLease(name, 'pod-a', LONG_TTL))!;
        expect(c.token).toBeGreaterThan(b.token);
        // The expired holder can neither renew nor release the lease it lost.
        expect(await store.renewFencedLease(b, LONG_TTL)).toBe(false);
        await store.releaseFencedLease(b);
        expect(await store.acquireFencedLease(name, 'pod-b', LONG_TTL)).toBeNull();
      });

      it('renews and releases only for the same owner and token', async () => {
        const store = await open();
        const name = `rtms-${randomDedupKey()}`;
        const a = (await store.acquireFencedLease(name, 'pod-a', LONG_TTL))!;

        expect(await store.renewFencedLease({ ...a, token: a.token + 1 }, LONG_TTL)).toBe(false);
        expect(await store.renewFencedLease({ ...a, owner: 'pod-b' }, LONG_TTL)).toBe(false);
        expect(await store.renewFencedLease(a, LONG_TTL)).toBe(true);
        await store.releaseFencedLease({ ...a, token: a.token + 1 });
        expect(await store.acquireFencedLease(name, 'pod-b', LONG_TTL)).toBeNull();
        await store.releaseFencedLease(a);
        expect(await store.acquireFencedLease(name, 'pod-b', LONG_TTL)).not.toBeNull();
      });

      it('keeps a renewed fenced lease past its original expiry', async () => {
        const store = await open();
        const name = `rtms-${randomDedupKey()}`;
        const a = (await store.acquireFencedLease(name, 'pod-a', SHORT_TTL))!;

        await pass(SHORT_TTL * 0.6);
        expect(await store.renewFencedLease(a, SHORT_TTL)).toBe(true);
        await pass(SHORT_TTL * 0.6);

        expect(await store.acquireFencedLease(name, 'pod-b', LONG_TTL)).toBeNull();
      });

      it('gives one winner when two instances race for a fenced lease', async () => {
        const [one, two] = [await open(), await open()];
        const name = `rtms-${randomDedupKey()}`;
        const results = await Promise.all(
          Array.from({ length: 10 }, (_, i) => (i % 2 ? one : two).acquireFencedLease(name, `pod-${i}`, LONG_TTL)),
        );
        expect(results.filter((r) => r !== null)).toHaveLength(1);
      });

      it('is separate from the plain lease of the same name', async () => {
        const store = await open();
        const name = `rtms-${randomDedupKey()}`;
        expect(await store.acquireLease(name, 'pod-a', LONG_TTL)).toBe(true);
        expect(await store.acquireFencedLease(name, 'pod-b', LONG_TTL)).not.toBeNull();
      });

      it('rejects a malformed fenced lease', async () => {
        const store = await open();
        await expect(store.renewFencedLease({ name: 'x', owner: 'o', token: 0 }, LONG_TTL)).rejects.toThrow(RangeError);
        await expect(store.releaseFencedLease({ name: '', owner: 'o', token: 1 })).rejects.toThrow(TypeError);
      });
    });

    it('reports itself ready while open', async () => {
      const store = await open();
      expect(await store.isReady()).toBe(true);
    });

    if (harness.reopen) {
      const reopen = harness.reopen.bind(harness);
      describe('restart', () => {
        it('keeps claims and tokens across a restart', async () => {
          const store = await open();
          const key = randomDedupKey();
          await store.claimMany([{ key, owner: 'raw/4/44', ttlMs: LONG_TTL }]);
          await store.offerToken(key, { token: 'survivor', receivedAt: 44 }, LONG_TTL);

          const restarted = track(await reopen());

          expect(
            await restarted.claimMany([
              { key, owner: 'raw/5/55', ttlMs: LONG_TTL },
              { key, owner: 'raw/4/44', ttlMs: LONG_TTL },
            ]),
          ).toEqual([{ status: 'duplicate', owner: 'raw/4/44' }, { status: 'owned' }]);
          expect(await restarted.getToken(key)).toEqual({ token: 'survivor', receivedAt: 44 });
        });

        it('hands out greater fencing tokens after a restart than before it', async () => {
          const name = `rtms-${randomDedupKey()}`;
          const before = (await (await open()).acquireFencedLease(name, 'pod-a', SHORT_TTL))!;
          await pass(SHORT_TTL + 200);
          const restarted = track(await reopen());
          const after = (await restarted.acquireFencedLease(name, 'pod-b', LONG_TTL))!;
          expect(after.token).toBeGreaterThan(before.token);
        });

        it('does not bring back claims that expired before the restart', async () => {
          const store = await open();
          const key = randomDedupKey();
          await store.claimMany([{ key, owner: 'raw/4/44', ttlMs: SHORT_TTL }]);

          await pass(SHORT_TTL + 200);
          const restarted = track(await reopen());

          expect(await restarted.claimMany([{ key, owner: 'raw/5/55', ttlMs: LONG_TTL }])).toEqual([
            { status: 'claimed' },
          ]);
        });
      });
    }
  });
}
