import { randomUUID } from 'node:crypto';
import type { AccountLinkEvent } from '@zoom-pipeline/contracts';
import type { AccountsStore, LinkRecord } from './accounts-store.port';
import type { TokenCipher } from './token-cipher';
import { OAuthGrantRejectedError, type TokenSet, type ZoomOAuthClient } from './zoom-oauth-client';

/** Who a Zoom event belongs to: dedup asks this for every canonical event (the default answers "nobody"). */
export interface AccountLinkLookup {
  appUserFor(query: { zoomUserId?: string; accountId?: string }): Promise<string | undefined>;
}

export const ACCOUNT_LINK_LOOKUP = Symbol('ACCOUNT_LINK_LOOKUP');
/** LinkedAccounts when the accounts feature is configured, else null. */
export const LINKED_ACCOUNTS = Symbol('LINKED_ACCOUNTS');
/** Optional sink of `zoom.accounts.links` events (the accounts feature publishes them on the bus). */
export const ACCOUNT_LINK_EVENTS = Symbol('ACCOUNT_LINK_EVENTS');

export interface AccountLinkEventSink {
  publish(event: AccountLinkEvent): Promise<void>;
}

export const NO_LINKS: AccountLinkLookup = { appUserFor: async () => undefined };

export interface LinkedAccountsOptions {
  /** Refresh this long before expiry. */
  refreshMarginMs: number;
  /** How long one refresh may hold the lock (and how long others wait for it). Default 15 s. */
  lockTtlMs?: number;
  /** How often a waiter looks whether the holder's refresh landed. Default 50 ms. */
  pollMs?: number;
  now?: () => number;
  events?: AccountLinkEventSink;
}

export function linkContext(appUserId: string): string {
  return `link:${appUserId}`;
}

/**
 * Linked users' tokens: a fresh access token for a link, refreshed before it expires with one refresh per link
 * across all processes (a lock in the store). Zoom rotates refresh tokens, so two processes refreshing with the
 * same one would leave one of them, and possibly the link, with a dead token: the holder refreshes and saves the
 * new pair before releasing; the others wait for the saved pair. A refresh Zoom refuses marks the link
 * `needs_reauth` (tokens deleted) and says so on `zoom.accounts.links`.
 */
export class LinkedAccounts implements AccountLinkLookup {
  /** One lookup per link at a time in this process; the lock makes it one across processes. */
  private readonly inflight = new Map<string, Promise<string | undefined>>();
  private readonly lockTtlMs: number;
  private readonly pollMs: number;
  private readonly now: () => number;

  constructor(
    readonly store: AccountsStore,
    readonly cipher: TokenCipher,
    readonly oauth: ZoomOAuthClient,
    private readonly options: LinkedAccountsOptions,
  ) {
    this.lockTtlMs = options.lockTtlMs ?? 15_000;
    this.pollMs = options.pollMs ?? 50;
    this.now = options.now ?? Date.now;
  }

  async appUserFor(query: { zoomUserId?: string; accountId?: string }): Promise<string | undefined> {
    return (await this.store.appUserFor(query)) ?? undefined;
  }

  /**
   * The access token of the app user linked to this Zoom user (or account), for the downloader; undefined when none.
   */
  async accessTokenFor(query: { zoomUserId?: string; accountId?: string }): Promise<string | undefined> {
    const appUserId = await this.appUserFor(query);
    return appUserId === undefined ? undefined : this.accessToken(appUserId);
  }

  sealTokens(appUserId: string, tokens: TokenSet): string {
    return this.cipher.seal(JSON.stringify(tokens), linkContext(appUserId));
  }

  openTokens(link: LinkRecord): TokenSet | undefined {
    return link.tokens === undefined
      ? undefined
      : (JSON.parse(this.cipher.open(link.tokens, linkContext(link.appUserId))) as TokenSet);
  }

  /**
   * A working access token of the link, refreshed when it expires within the margin; undefined without usable tokens.
   */
  accessToken(appUserId: string): Promise<string | undefined> {
    let p = this.inflight.get(appUserId);
    if (p === undefined) {
      p = this.freshAccessToken(appUserId).finally(() => this.inflight.delete(appUserId));
      this.inflight.set(appUserId, p);
    }
    return p;
  }

  private async freshAccessToken(appUserId: string): Promise<string | undefined> {
    // Twice the lock's lifetime: a holder that died is replaced once its lock expires.
    const deadline = this.now() + 2 * this.lockTtlMs;
    for (;;) {
      const link = await this.store.getLink(appUserId);
      const tokens = link && link.status === 'active' ? this.openTokens(link) : undefined;
      if (link === null || tokens === undefined) return undefined;
      if (tokens.expiresAt - this.options.refreshMarginMs > this.now()) return tokens.accessToken;
      const lock = `refresh:${appUserId}`;
      const owner = randomUUID();
      if (await this.store.acquireLock(lock, owner, this.lockTtlMs)) {
        try {
          return await this.refreshHeld(appUserId, link.tokenVersion);
        } finally {
          await this.store.releaseLock(lock, owner);
        }
      }
      // Another process refreshes: look again shortly (its saved pair, or the lock free if it failed).
      if (this.now() > deadline) throw new Error('timed out waiting for another process to refresh the link');
      await new Promise((r) => setTimeout(r, this.pollMs));
    }
  }

  /** Refreshes under the lock: re-read first (another holder may have finished just before), save, then use. */
  private async refreshHeld(appUserId: string, seenVersion: number): Promise<string | undefined> {
    const link = await this.store.getLink(appUserId);
    const tokens = link && link.status === 'active' ? this.openTokens(link) : undefined;
    if (link === null || tokens === undefined) return undefined;
    if (link.tokenVersion !== seenVersion && tokens.expiresAt - this.options.refreshMarginMs > this.now())
      return tokens.accessToken;
    let fresh: TokenSet;
    try {
      fresh = await this.oauth.refresh(tokens.refreshToken);
    } catch (err) {
      if (err instanceof OAuthGrantRejectedError) {
        await this.markNeedsReauth(link);
        return undefined;
      }
      throw err;
    }
    // Persist the rotated pair before anyone uses it: the old refresh token is dead now.
    await this.store.saveLink({
      ...link,
      tokens: this.sealTokens(appUserId, fresh),
      tokenVersion: link.tokenVersion + 1,
      updatedAt: new Date(this.now()).toISOString(),
    });
    return fresh.accessToken;
  }

  private async markNeedsReauth(link: LinkRecord): Promise<void> {
    const at = new Date(this.now()).toISOString();
    const { tokens: _dropped, ...rest } = link;
    await this.store.saveLink({ ...rest, status: 'needs_reauth', tokenVersion: link.tokenVersion + 1, updatedAt: at });
    await this.options.events?.publish({
      zoomUserId: link.zoomUserId,
      accountId: link.accountId,
      appUserId: link.appUserId,
      status: 'needs_reauth',
      at,
    });
  }
}
