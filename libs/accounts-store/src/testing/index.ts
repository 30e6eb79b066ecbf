// The one contract every AccountsStore adapter keeps: memory and embedded in the unit tier, Redis in
// test/integration against the real server. Jest is imported explicitly (see dedup-store/testing).
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from '@jest/globals';
import { type AccountsStore, type LinkRecord, LinkConflictError } from '../accounts-store.port';

export interface AccountsStoreHarness {
  /** A store over the harness's data; every store of one harness sees the same data (two pods, one Redis). */
  create(): Promise<AccountsStore>;
  /** A restart on the same data (embedded: the file; Redis: a new connection). */
  reopen?(): Promise<AccountsStore>;
}

const id = (p: string): string => `${p}-${randomBytes(6).toString('hex')}`;

export function sampleLink(overrides: Partial<LinkRecord> = {}): LinkRecord {
  const now = new Date().toISOString();
  return {
    appUserId: id('app'),
    zoomUserId: id('zu'),
    accountId: id('acc'),
    level: 'user',
    status: 'active',
    tokens: 'zpe1.k1.iv.tag.ct',
    tokenVersion: 1,
    createdAt: now,
    updatedAt: now,
    ...overrides,
  };
}

export function describeAccountsStoreContract(name: string, harness: AccountsStoreHarness): void {
  describe(`AccountsStore contract: ${name}`, () => {
    const opened: AccountsStore[] = [];
    const store = async (): Promise<AccountsStore> => {
      const s = await harness.create();
      opened.push(s);
      return s;
    };
    afterAll(async () => {
      for (const s of new Set(opened)) await s.close();
    });

    it('hands a one-time value out once, even to concurrent takers, and never after it expired', async () => {
      const s = await store();
      const k = id('state');
      await s.putOnce('state', k, 'v1', 60_000);
      const takes = await Promise.all([s.takeOnce('state', k), s.takeOnce('state', k), s.takeOnce('state', k)]);
      expect(takes.filter((t) => t === 'v1')).toHaveLength(1);
      expect(await s.takeOnce('state', k)).toBeNull();
      expect(await s.takeOnce('confirm', id('unknown'))).toBeNull();
      const short = id('state');
      await s.putOnce('state', short, 'v2', 150);
      await sleep(400);
      expect(await s.takeOnce('state', short)).toBeNull();
    });

    it('keeps the kinds apart: a state id is not a confirmation code', async () => {
      const s = await store();
      const k = id('k');
      await s.putOnce('state', k, 'v', 60_000);
      expect(await s.takeOnce('confirm', k)).toBeNull();
      expect(await s.takeOnce('state', k)).toBe('v');
    });

    it(
      'routes an active link by its Zoom user, an account-level link by its account too, and a revoked one ' +
        'not at all',
      async () => {
        const s = await store();
        const user = sampleLink();
        await s.saveLink(user);
        expect(await s.getLink(user.appUserId)).toEqual(user);
        expect(await s.appUserFor({ zoomUserId: user.zoomUserId })).toBe(user.appUserId);
        expect(await s.appUserFor({ accountId: user.accountId })).toBeNull();
        const account = sampleLink({ level: 'account' });
        await s.saveLink(account);
        expect(await s.appUserFor({ zoomUserId: id('other-host'), accountId: account.accountId })).toBe(
          account.appUserId,
        );
        const { tokens: _t, ...withoutTokens } = user;
        await s.saveLink({ ...withoutTokens, status: 'revoked', tokenVersion: 2 });
        expect(await s.appUserFor({ zoomUserId: user.zoomUserId })).toBeNull();
        expect((await s.getLink(user.appUserId))?.tokens).toBeUndefined();
      },
    );

    it('refuses to route one Zoom user to two app users, and frees it when the first link goes', async () => {
      const s = await store();
      const first = sampleLink();
      await s.saveLink(first);
      const second = sampleLink({ zoomUserId: first.zoomUserId });
      await expect(s.saveLink(second)).rejects.toBeInstanceOf(LinkConflictError);
      expect(await s.getLink(second.appUserId)).toBeNull();
      await s.deleteLink(first.appUserId);
      expect(await s.getLink(first.appUserId)).toBeNull();
      expect(await s.appUserFor({ zoomUserId: first.zoomUserId })).toBeNull();
      await s.saveLink(second);
      expect(await s.appUserFor({ zoomUserId: first.zoomUserId })).toBe(second.appUserId);
    });

    it('moves the routing when an app user relinks to another Zoom user', async () => {
      const s = await store();
      const link = sampleLink();
      await s.saveLink(link);
      const moved = { ...link, zoomUserId: id('zu2') };
      await s.saveLink(moved);
      expect(await s.appUserFor({ zoomUserId: link.zoomUserId })).toBeNull();
      expect(await s.appUserFor({ zoomUserId: moved.zoomUserId })).toBe(link.appUserId);
    });

    it('locks for one owner at a time; only the owner releases it; it frees itself on expiry', async () => {
      const [a, b] = [await store(), await store()];
      const lock = id('refresh');
      const got = await Promise.all([a.acquireLock(lock, 'p1', 60_000), b.acquireLock(lock, 'p2', 60_000)]);
      expect(got.filter(Boolean)).toHaveLength(1);
      const [holder, other] = got[0] ? ['p1', 'p2'] : ['p2', 'p1'];
      await a.releaseLock(lock, other);
      expect(await b.acquireLock(lock, other, 60_000)).toBe(false);
      await a.releaseLock(lock, holder);
      expect(await b.acquireLock(lock, other, 150)).toBe(true);
      await sleep(400);
      expect(await a.acquireLock(lock, holder, 60_000)).toBe(true);
    });

    if (harness.reopen) {
      it('keeps links and one-time values across a restart', async () => {
        const s = await store();
        const link = sampleLink();
        const k = id('confirm');
        await s.saveLink(link);
        await s.putOnce('confirm', k, 'pending', 60_000);
        const again = await harness.reopen!();
        opened.push(again);
        expect(await again.getLink(link.appUserId)).toEqual(link);
        expect(await again.appUserFor({ zoomUserId: link.zoomUserId })).toBe(link.appUserId);
        expect(await again.takeOnce('confirm', k)).toBe('pending');
      });
    }
  });
}
