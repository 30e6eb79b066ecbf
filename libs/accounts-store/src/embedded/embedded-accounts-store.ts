import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { AccountsStoreUnavailableError } from '../accounts-store.port';
import { MemoryAccountsStore } from '../memory/memory-accounts-store';
import { type AccountsSnapshot } from '../state/accounts-state';

export const EMBEDDED_ACCOUNTS_FILE = 'accounts.json';

/**
 * Accounts store for standalone mode: the state in memory (decided synchronously, so atomic for concurrent
 * callers), and after every change the whole snapshot written to a temporary file, fsynced and renamed over
 * `accounts.json` before the call resolves. Links are few and small; a rewrite is simpler than a log and a torn
 * write can never be read. Locks stay in memory (one process).
 */
export class EmbeddedAccountsStore extends MemoryAccountsStore {
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
  private writing: Promise<void> = Promise.resolve();

  private constructor(
    private readonly dir: string,
    now: () => number,
  ) {
    super({ now });
    this.path = join(dir, EMBEDDED_ACCOUNTS_FILE);
  }

  override async close(): Promise<void> {
    await super.close();
    await this.writing.catch(() => undefined);
  }

  protected override changed(): Promise<void> {
    return this.persist();
  }

  protected override get kind(): string {
    return 'embedded';
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
