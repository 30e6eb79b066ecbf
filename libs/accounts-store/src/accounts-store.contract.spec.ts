import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedAccountsStore } from './embedded/embedded-accounts-store';
import { MemoryAccountsStore } from './memory/memory-accounts-store';
import { describeAccountsStoreContract } from './testing';

const memory = new MemoryAccountsStore();
describeAccountsStoreContract('memory', { create: async () => memory });

const dir = mkdtempSync(join(tmpdir(), 'zp-accounts-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let embedded: Promise<EmbeddedAccountsStore> | undefined;
describeAccountsStoreContract('embedded', {
  create: () => (embedded ??= EmbeddedAccountsStore.open({ dir })),
  reopen: async () => {
    await (await embedded)?.close();
    embedded = EmbeddedAccountsStore.open({ dir });
    return embedded;
  },
});
