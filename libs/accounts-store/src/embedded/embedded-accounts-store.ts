import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fsyncDirectory, replaceFile } from '@zoom-pipeline/file-journal';
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
    const snapshot = JSON.stringify(this.state.snapshot());
    await replaceFile(this.path, (file) => file.writeFile(snapshot), { mode: 0o600 });
    await fsyncDirectory(this.dir);
  }
}
