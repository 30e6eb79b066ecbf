import type { AccountsStore, LinkRecord, OnceKind } from '../accounts-store.port';
import { AccountsStoreUnavailableError } from '../accounts-store.port';
import { AccountsState } from '../state/accounts-state';

/**
 * Accounts store for unit tests: the Redis semantics in one process, nothing persisted. The embedded store is this
 * plus a snapshot written after every change (`changed`).
 */
export class MemoryAccountsStore implements AccountsStore {
  protected readonly state: AccountsState;
  private closed = false;

  constructor(options: { now?: () => number } = {}) {
    this.state = new AccountsState(options.now ?? Date.now);
  }

  async putOnce(kind: OnceKind, id: string, value: string, ttlMs: number): Promise<void> {
    this.open().putOnce(kind, id, value, ttlMs);
    await this.changed();
  }
  async takeOnce(kind: OnceKind, id: string): Promise<string | null> {
    const value = this.open().takeOnce(kind, id);
    await this.changed();
    return value;
  }
  async getLink(appUserId: string): Promise<LinkRecord | null> {
    return this.open().getLink(appUserId);
  }
  async saveLink(link: LinkRecord): Promise<void> {
    this.open().saveLink(link);
    await this.changed();
  }
  async deleteLink(appUserId: string): Promise<void> {
    this.open().deleteLink(appUserId);
    await this.changed();
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

  /** After a change of links or one-time values (not locks: they live in one process). */
  protected async changed(): Promise<void> {}

  protected get kind(): string {
    return 'memory';
  }

  private open(): AccountsState {
    if (this.closed) throw new AccountsStoreUnavailableError(`${this.kind} accounts store is closed`);
    return this.state;
  }
}
