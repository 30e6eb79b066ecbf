/**
 * The dedup-store port: occurrence claims, freshest download tokens, and upload leases.
 * Adapters: Redis (ioredis), embedded (standalone, survives restarts), memory (unit tests).
 * This file imports no client library.
 */

export interface ClaimRequest {
  /** Canonical key digest (SPEC §6). */
  key: string;
  /**
   * Who claims: the source coordinates of the delivery (`topic/partition/offset`). A redelivered record
   * (crash between claim and emit) finds its own claim and is treated as not yet emitted.
   */
  owner: string;
  ttlMs: number;
}

export type ClaimResult =
  /** First claim: this delivery is the canonical one. */
  | { status: 'claimed' }
  /** Already claimed by this same owner (a redelivery after a crash): emit it again. */
  | { status: 'owned' }
  /** Claimed by another delivery: a duplicate of `owner`'s occurrence. */
  | { status: 'duplicate'; owner: string };

export interface TokenRecord {
  token: string;
  /** Epoch ms the delivery carrying the token was received. */
  receivedAt: number;
}

/**
 * A lease with a fencing token: every new holder of one lease name gets a greater token than any holder before it,
 * so a holder that was paused past its TTL (and replaced) can be told apart from the current one by whoever
 * receives its writes. Re-acquiring by the holder keeps its token.
 */
export interface FencedLease {
  name: string;
  owner: string;
  token: number;
}

export interface DedupStore {
  /** Claims many keys in one round trip (Redis: one script call, SET NX PX per key), results in request order. */
  claimMany(requests: ClaimRequest[]): Promise<ClaimResult[]>;
  /**
   * The owners of live claims, in request order (null: not claimed or expired), without claiming anything. One round
   * trip (Redis MGET): the reconciler's "is this file stored?" for a page of files.
   */
  peekClaims(keys: string[]): Promise<Array<string | null>>;
  /** Stores `record` under `key` unless a record with a later `receivedAt` is there. */
  offerToken(key: string, record: TokenRecord, ttlMs: number): Promise<void>;
  getToken(key: string): Promise<TokenRecord | null>;
  /** Exclusive lease (e.g. one uploader per file). True when `owner` holds it now. */
  acquireLease(name: string, owner: string, ttlMs: number): Promise<boolean>;
  /** Extends a lease `owner` holds; false when it was lost (expired and taken). */
  renewLease(name: string, owner: string, ttlMs: number): Promise<boolean>;
  releaseLease(name: string, owner: string): Promise<void>;
  /** Exclusive lease with a fencing token (see FencedLease); null while another owner holds `name`. */
  acquireFencedLease(name: string, owner: string, ttlMs: number): Promise<FencedLease | null>;
  /** Extends the lease only while `lease.owner` still holds it under `lease.token`; false when it was lost. */
  renewFencedLease(lease: FencedLease, ttlMs: number): Promise<boolean>;
  /** Frees the lease only while `lease.owner` holds it under `lease.token`. */
  releaseFencedLease(lease: FencedLease): Promise<void>;
  isReady(): Promise<boolean>;
  close(): Promise<void>;
}

export const DEDUP_STORE = Symbol('DEDUP_STORE');

export class DedupStoreUnavailableError extends Error {
  readonly code = 'dedup_store_unavailable';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DedupStoreUnavailableError';
  }
}
