/**
 * The accounts-store port: app users linked to Zoom users (issue #16). Adapters: Redis (cluster mode), embedded
 * (standalone, a file under DATA_DIR that survives restarts), memory (unit tests); one contract suite
 * (testing/accounts-store.contract.ts). Tokens reach the store already sealed (token-cipher.ts): the store never
 * sees a token in clear. This file imports no client library.
 */

export type LinkStatus = 'active' | 'needs_reauth' | 'revoked';

/** A confirmed link. Pending links live only in a one-time confirmation record until the app confirms them. */
export interface LinkRecord {
  appUserId: string;
  zoomUserId: string;
  accountId: string;
  email?: string;
  /**
   * `user`: routes the Zoom user's events; `account`: routes every event of the Zoom account (account-level install).
   */
  level: 'user' | 'account';
  status: LinkStatus;
  /** The sealed token set (TokenCipher); absent once revoked or after Zoom refused a refresh. */
  tokens?: string;
  /** Bumped on every token change: a process waiting for another's refresh sees the new tokens by it. */
  tokenVersion: number;
  createdAt: string;
  updatedAt: string;
}

/** One-time records: an OAuth `state` (start → callback) and a confirmation code (callback → confirm). */
export type OnceKind = 'state' | 'confirm';

export interface AccountsStore {
  /** Stores a single-use value under `id` (callers pass a digest, never the secret itself) for `ttlMs`. */
  putOnce(kind: OnceKind, id: string, value: string, ttlMs: number): Promise<void>;
  /**
   * Returns and deletes the value in one step: of two concurrent takes, one gets it. Null when unknown, expired or
   * taken.
   */
  takeOnce(kind: OnceKind, id: string): Promise<string | null>;
  getLink(appUserId: string): Promise<LinkRecord | null>;
  /**
   * Creates or replaces the app user's link. An active or needs_reauth link routes its Zoom user (and its account for
   * level `account`); a revoked one routes nothing. Throws LinkConflictError when that Zoom user or account already
   * routes to another app user.
   */
  saveLink(link: LinkRecord): Promise<void>;
  deleteLink(appUserId: string): Promise<void>;
  /** The app user a Zoom user (else its account, for account-level links) routes to; null when none. */
  appUserFor(query: { zoomUserId?: string; accountId?: string }): Promise<string | null>;
  /** Exclusive lock across processes (refresh single-flight). True when `owner` holds it now. */
  acquireLock(name: string, owner: string, ttlMs: number): Promise<boolean>;
  releaseLock(name: string, owner: string): Promise<void>;
  isReady(): Promise<boolean>;
  close(): Promise<void>;
}

export const ACCOUNTS_STORE = Symbol('ACCOUNTS_STORE');

export class LinkConflictError extends Error {
  readonly code = 'zoom_user_already_linked';
  constructor() {
    super('this Zoom user (or account) is already linked to another app user; unlink it there first');
    this.name = 'LinkConflictError';
  }
}

export class AccountsStoreUnavailableError extends Error {
  readonly code = 'accounts_store_unavailable';
  /** Waited out by the bus's error policy, like the dedup store's. */
  readonly transient = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AccountsStoreUnavailableError';
  }
}

/** Whether a link with this status routes events (a link that needs re-auth still belongs to its app user). */
export function routes(status: LinkStatus): boolean {
  return status === 'active' || status === 'needs_reauth';
}
