import type { ClaimRequest, ClaimResult, DedupStore, FencedLease, TokenRecord } from '../dedup-store.port';
import { DedupStoreUnavailableError } from '../dedup-store.port';
import { DedupState } from '../state/dedup-state';
import { assertClaimRequests, assertFencedLease, assertName, assertTokenOffer, assertTtl } from '../state/validate';

export interface MemoryDedupStoreOptions {
  /** Clock for expiry (epoch ms). Tests pass a fake one; default `Date.now`. */
  now?: () => number;
}

/**
 * Dedup store for unit tests: the same semantics as Redis (first claim wins, expiry, freshest token,
 * exclusive leases) in one process, nothing persisted. Every operation is decided synchronously, so
 * concurrent callers see it as atomic.
 */
export class MemoryDedupStore implements DedupStore {
  private readonly state: DedupState;
  private closed = false;

  constructor(options: MemoryDedupStoreOptions = {}) {
    this.state = new DedupState(options.now ?? Date.now);
  }

  async claimMany(requests: ClaimRequest[]): Promise<ClaimResult[]> {
    this.assertOpen();
    assertClaimRequests(requests);
    return requests.map((request) => this.state.claim(request).result);
  }

  async peekClaims(keys: string[]): Promise<Array<string | null>> {
    this.assertOpen();
    keys.forEach((k, i) => assertName(k, `keys[${i}]`));
    return keys.map((k) => this.state.claimOwner(k));
  }

  async offerToken(key: string, record: TokenRecord, ttlMs: number): Promise<void> {
    this.assertOpen();
    assertTokenOffer(key, record, ttlMs);
    this.state.offerToken(key, record, ttlMs);
  }

  async getToken(key: string): Promise<TokenRecord | null> {
    this.assertOpen();
    assertName(key, 'key');
    return this.state.getToken(key);
  }

  async acquireLease(name: string, owner: string, ttlMs: number): Promise<boolean> {
    this.assertOpen();
    assertName(name, 'name');
    assertName(owner, 'owner');
    assertTtl(ttlMs);
    return this.state.acquireLease(name, owner, ttlMs);
  }

  async renewLease(name: string, owner: string, ttlMs: number): Promise<boolean> {
    this.assertOpen();
    assertName(name, 'name');
    assertName(owner, 'owner');
    assertTtl(ttlMs);
    return this.state.renewLease(name, owner, ttlMs);
  }

  async releaseLease(name: string, owner: string): Promise<void> {
    this.assertOpen();
    assertName(name, 'name');
    assertName(owner, 'owner');
    this.state.releaseLease(name, owner);
  }

  async acquireFencedLease(name: string, owner: string, ttlMs: number): Promise<FencedLease | null> {
    this.assertOpen();
    assertName(name, 'name');
    assertName(owner, 'owner');
    assertTtl(ttlMs);
    return this.state.acquireFencedLease(name, owner, ttlMs);
  }

  async renewFencedLease(lease: FencedLease, ttlMs: number): Promise<boolean> {
    this.assertOpen();
    assertFencedLease(lease);
    assertTtl(ttlMs);
    return this.state.renewFencedLease(lease, ttlMs);
  }

  async releaseFencedLease(lease: FencedLease): Promise<void> {
    this.assertOpen();
    assertFencedLease(lease);
    this.state.releaseFencedLease(lease);
  }

  async isReady(): Promise<boolean> {
    return !this.closed;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private assertOpen(): void {
    if (this.closed) {
      throw new DedupStoreUnavailableError('memory dedup store is closed');
    }
  }
}
