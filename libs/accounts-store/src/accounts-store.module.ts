import { dirname, join } from 'node:path';
import { type DynamicModule, Global, Inject, Module, type OnApplicationShutdown, Optional } from '@nestjs/common';
import type { AccountsSettings, DedupStoreSettings } from '@zoom-pipeline/config';
import type { AccountsStore } from './accounts-store.port';
import { ACCOUNTS_STORE } from './accounts-store.port';
import { EmbeddedAccountsStore } from './embedded/embedded-accounts-store';
import {
  ACCOUNT_LINK_EVENTS,
  ACCOUNT_LINK_LOOKUP,
  type AccountLinkEventSink,
  LINKED_ACCOUNTS,
  LinkedAccounts,
  NO_LINKS,
} from './linked-accounts';
import { MemoryAccountsStore } from './memory/memory-accounts-store';
import { RedisAccountsStore } from './redis/redis-accounts-store';
import { TokenCipher } from './token-cipher';
import { ZoomOAuthClient } from './zoom-oauth-client';

/** Where links live: next to the dedup store (Redis under REDIS_KEY_PREFIX + `accounts:`, or DATA_DIR/accounts). */
export async function createAccountsStore(store: DedupStoreSettings): Promise<AccountsStore> {
  switch (store.kind) {
    case 'redis':
      return new RedisAccountsStore({ url: store.url, keyPrefix: `${store.keyPrefix}accounts:` });
    case 'embedded':
      // DATA_DIR/dedup → DATA_DIR/accounts
      return EmbeddedAccountsStore.open({ dir: join(dirname(store.dir), 'accounts') });
    case 'memory':
      return new MemoryAccountsStore();
  }
}

export function createLinkedAccounts(
  store: AccountsStore,
  settings: AccountsSettings,
  events?: AccountLinkEventSink,
): LinkedAccounts {
  return new LinkedAccounts(
    store,
    new TokenCipher(settings.encryptionKey, settings.previousKeys),
    new ZoomOAuthClient({
      clientId: settings.clientId,
      clientSecret: settings.clientSecret,
      oauthBaseUrl: settings.oauthBaseUrl,
      apiBaseUrl: settings.apiBaseUrl,
    }),
    { refreshMarginMs: settings.refreshMarginMs, events },
  );
}

/**
 * Provides (globally) ACCOUNT_LINK_LOOKUP for dedup's routing, and, when the accounts feature is configured,
 * ACCOUNTS_STORE and LINKED_ACCOUNTS (tokens for the downloader and the accounts feature). Without accounts settings
 * the lookup answers "no links" and nothing connects anywhere.
 */
@Global()
@Module({})
export class AccountsStoreModule implements OnApplicationShutdown {
  constructor(@Optional() @Inject(ACCOUNTS_STORE) private readonly store?: AccountsStore | null) {}

  static forRoot(settings: { accounts?: AccountsSettings; store: DedupStoreSettings }): DynamicModule {
    const accounts = settings.accounts;
    return {
      module: AccountsStoreModule,
      providers: [
        { provide: ACCOUNTS_STORE, useFactory: () => (accounts ? createAccountsStore(settings.store) : null) },
        {
          provide: LINKED_ACCOUNTS,
          inject: [ACCOUNTS_STORE, { token: ACCOUNT_LINK_EVENTS, optional: true }],
          useFactory: (store: AccountsStore | null, events?: AccountLinkEventSink) =>
            accounts && store ? createLinkedAccounts(store, accounts, events) : null,
        },
        {
          provide: ACCOUNT_LINK_LOOKUP,
          inject: [LINKED_ACCOUNTS],
          useFactory: (linked: LinkedAccounts | null) => linked ?? NO_LINKS,
        },
      ],
      exports: [ACCOUNTS_STORE, LINKED_ACCOUNTS, ACCOUNT_LINK_LOOKUP],
    };
  }

  async onApplicationShutdown(): Promise<void> {
    await this.store?.close();
  }
}
