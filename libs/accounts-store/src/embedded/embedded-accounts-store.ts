import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { AccountsStore, LinkRecord, OnceKind } from '../accounts-store.port';
import { AccountsStoreUnavailableError } from '../accounts-store.port';
import { AccountsState, type AccountsSnapshot } from '../state/accounts-state';

export const EMBEDDED_ACCOUNTS_FILE = 'accounts.json';

/**
 * Accounts store for standalone mode: the state in memory (decided synchronously, so atomic for concurrent
 * callers), and after every change the whole snapshot written to a temporary file, fsynced and renamed over
 * `accounts.json` before the call resolves. Links are few and small; a rewrite is simpler than a log and a torn
 * write can never be read. Locks stay in memory (one process).
 */
export class EmbeddedAccountsStore implements AccountsStore {
  static async open(options: { dir: string; now?: () => number }): Promise<EmbeddedAccountsStore> {
    const store = new EmbeddedAccountsStore(options.dir, options.now ?? Date.now);
    await mkdir(options.dir, { recursive: true });
    let text: string | undefined;
    try {
      text = await readFile(store.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (text !== undefined) store.state.restore(JSON.parse(text) as AccountsSnapshot);
    return store;
  }

  readonly path: string;
  private readonly state: AccountsState;
  private writing: Promise<void> = Promise.resolve();
  private closed = false;

  private constructor(
    private readonly dir: string,
    now: () => number,
  ) {
    this.path = join(dir, EMBEDDED_ACCOUNTS_FILE);
    this.state = new AccountsState(now);
  }

  async putOnce(kind: OnceKind, id: string, value: string, ttlMs: number): Promise<void> {
    this.open().putOnce(kind, id, value, ttlMs);
    await this.persist();
  }
  async takeOnce(kind: OnceKind, id: string): Promise<string | null> {
    const value = this.open().takeOnce(kind, id);
    await this.persist();
    return value;
  }
  async getLink(appUserId: string): Promise<LinkRecord | null> {
    return this.open().getLink(appUserId);
  }
  async saveLink(link: LinkRecord): Promise<void> {
    this.open().saveLink(link);
    await this.persist();
  }
  async deleteLink(appUserId: string): Promise<void> {
    this.open().deleteLink(appUserId);
    await this.persist();
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
    await this.writing.catch(() => undefined);
  }

  private open(): AccountsState {
    if (this.closed) throw new AccountsStoreUnavailableError('embedded accounts store is closed');
    return this.state;
  }

  /** Writes are chained: each one writes the snapshot current when it runs, so the last write has every change. */
  private persist(): Promise<void> {
    const next = this.writing.catch(() => undefined).then(() => this.write());
    this.writing = next;
    return next.catch((err: unknown) => {
      throw new AccountsStoreUnavailableError(
        `embedded accounts store cannot write ${this.path}: ${(err as Error).message}`,
        { cause: err },
      );
    });
  }

  private async write(): Promise<void> {
    const tmp = `${this.path}.tmp`;
    const file = await open(tmp, 'w', 0o600);
    try {
      await file.writeFile(JSON.stringify(this.state.snapshot()));
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(tmp, this.path);
    const dir = await open(this.dir, 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }
}
