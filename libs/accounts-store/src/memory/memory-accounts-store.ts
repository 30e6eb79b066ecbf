import type { AccountsStore, LinkRecord, OnceKind } from '../accounts-store.port';
import { AccountsStoreUnavailableError } from '../accounts-store.port';
import { AccountsState } from '../state/accounts-state';

/** Accounts store for unit tests: the Redis semantics in one process, nothing persisted. */
export class MemoryAccountsStore implements AccountsStore {
  private readonly state: AccountsState;
  private closed = false;

  constructor(options: { now?: () => number } = {}) {
    this.state = new AccountsState(options.now ?? Date.now);
  }

  async putOnce(kind: OnceKind, id: string, value: string, ttlMs: number): Promise<void> {
    this.open().putOnce(kind, id, value, ttlMs);
  }
  async takeOnce(kind: OnceKind, id: string): Promise<string | null> {
    return this.open().takeOnce(kind, id);
  }
  async getLink(appUserId: string): Promise<LinkRecord | null> {
    return this.open().getLink(appUserId);
  }
  async saveLink(link: LinkRecord): Promise<void> {
    this.open().saveLink(link);
  }
  async deleteLink(appUserId: string): Promise<void> {
    this.open().deleteLink(appUserId);
  }
  async appUserFor(query: { zoomUserId?: string; accountId?: string }): Promise<string | null> {
    return this.open().appUserFor(query);
  }
  async acquireLock(name: string, owner: string, ttlMs: number): Promise<boolean> {
    return this.open().acquireLock(name, owner, ttlMs);
  }
  async releaseLock(name: string, owner: string): Promise<void> {
    this.open().releaseLock(name, owner);
  }
  async isReady(): Promise<boolean> {
    return !this.closed;
  }
  async close(): Promise<void> {
    this.closed = true;
  }

  private open(): AccountsState {
    if (this.closed) throw new AccountsStoreUnavailableError('memory accounts store is closed');
    return this.state;
  }
}
