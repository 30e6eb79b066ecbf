import type { ClaimRequest, ClaimResult, FencedLease, TokenRecord } from '../dedup-store.port';

/** A claim as kept in memory and in the embedded log: who claimed the key, until when (epoch ms). */
export interface ClaimEntry {
  owner: string;
  expiresAt: number;
}

export interface TokenEntry extends TokenRecord {
  expiresAt: number;
}

interface LeaseEntry {
  owner: string;
  expiresAt: number;
}

interface FencedEntry extends LeaseEntry {
  token: number;
}

/** A change `DedupState` made, so a caller that fails to persist it can take it back. */
export type StateChange =
  | { kind: 'claim'; key: string; previous: ClaimEntry | undefined; next: ClaimEntry }
  | { kind: 'token'; key: string; previous: TokenEntry | undefined; next: TokenEntry };

/**
 * Sweep expired entries after this many writes, so maps of a long-running process do not grow with every
 * key ever seen. Sweeping costs O(entries); doing it every N writes keeps the amortised cost O(1).
 */
const SWEEP_EVERY_WRITES = 4096;

/**
 * The in-process dedup state shared by the memory and embedded adapters: claims, freshest tokens and
 * leases with expiry on an injectable clock. All decisions are synchronous, which makes every operation
 * atomic with respect to concurrent callers in the same process (the role Lua scripts play in Redis).
 */
export class DedupState {
  private readonly claims = new Map<string, ClaimEntry>();
  private readonly tokens = new Map<string, TokenEntry>();
  private readonly leases = new Map<string, LeaseEntry>();
  private readonly fenced = new Map<string, FencedEntry>();
  /** Last fencing token handed out per lease name; never swept, so tokens only grow. */
  private readonly fences = new Map<string, number>();
  private writesSinceSweep = 0;

  /**
   * `fenceFloor`: the smallest token to hand out. The embedded adapter passes its open time (epoch ms), so tokens
   * keep growing across restarts although they are not persisted (see its doc comment).
   */
  constructor(
    private readonly now: () => number,
    private readonly fenceFloor = 1,
  ) {}

  /** Same rule as Redis `SET NX PX` followed by `GET`: an expired claim is as good as none. */
  claim(request: ClaimRequest): { result: ClaimResult; change?: StateChange } {
    const at = this.now();
    const current = this.liveClaim(request.key, at);
    if (current) {
      return current.owner === request.owner
        ? { result: { status: 'owned' } }
        : { result: { status: 'duplicate', owner: current.owner } };
    }
    const next: ClaimEntry = { owner: request.owner, expiresAt: at + request.ttlMs };
    const previous = this.claims.get(request.key);
    this.claims.set(request.key, next);
    this.noteWrite();
    return { result: { status: 'claimed' }, change: { kind: 'claim', key: request.key, previous, next } };
  }

  /** Keeps the record with the greater `receivedAt`; a tie replaces (port: "unless a later one is there"). */
  offerToken(key: string, record: TokenRecord, ttlMs: number): StateChange | undefined {
    const at = this.now();
    const current = this.liveToken(key, at);
    if (current && current.receivedAt > record.receivedAt) {
      return undefined;
    }
    const next: TokenEntry = { token: record.token, receivedAt: record.receivedAt, expiresAt: at + ttlMs };
    const previous = this.tokens.get(key);
    this.tokens.set(key, next);
    this.noteWrite();
    return { kind: 'token', key, previous, next };
  }

  /** The live claim's owner, or null; reads only. */
  claimOwner(key: string): string | null {
    return this.liveClaim(key, this.now())?.owner ?? null;
  }

  getToken(key: string): TokenRecord | null {
    const current = this.liveToken(key, this.now());
    return current ? { token: current.token, receivedAt: current.receivedAt } : null;
  }

  acquireLease(name: string, owner: string, ttlMs: number): boolean {
    const at = this.now();
    const current = this.liveLease(name, at);
    if (current && current.owner !== owner) {
      return false;
    }
    // Re-acquiring a lease one already holds extends it, like the Redis script does.
    this.leases.set(name, { owner, expiresAt: at + ttlMs });
    return true;
  }

  renewLease(name: string, owner: string, ttlMs: number): boolean {
    const at = this.now();
    const current = this.liveLease(name, at);
    if (!current || current.owner !== owner) {
      return false;
    }
    current.expiresAt = at + ttlMs;
    return true;
  }

  acquireFencedLease(name: string, owner: string, ttlMs: number): FencedLease | null {
    const at = this.now();
    const current = this.fenced.get(name);
    const live = current && current.expiresAt > at ? current : undefined;
    if (live) {
      if (live.owner !== owner) return null;
      live.expiresAt = at + ttlMs;
      return { name, owner, token: live.token };
    }
    const token = Math.max((this.fences.get(name) ?? 0) + 1, this.fenceFloor);
    this.fences.set(name, token);
    this.fenced.set(name, { owner, token, expiresAt: at + ttlMs });
    return { name, owner, token };
  }

  renewFencedLease(lease: FencedLease, ttlMs: number): boolean {
    const at = this.now();
    const current = this.fenced.get(lease.name);
    if (!current || current.expiresAt <= at || current.owner !== lease.owner || current.token !== lease.token)
      return false;
    current.expiresAt = at + ttlMs;
    return true;
  }

  releaseFencedLease(lease: FencedLease): void {
    const current = this.fenced.get(lease.name);
    if (current && current.expiresAt > this.now() && current.owner === lease.owner && current.token === lease.token) {
      this.fenced.delete(lease.name);
    }
  }

  /** Never releases a lease someone else holds now. */
  releaseLease(name: string, owner: string): void {
    const current = this.liveLease(name, this.now());
    if (current && current.owner === owner) {
      this.leases.delete(name);
    }
  }

  /** Takes back a change that could not be made durable, unless something newer replaced it meanwhile. */
  revert(change: StateChange): void {
    const map: Map<string, ClaimEntry | TokenEntry> = change.kind === 'claim' ? this.claims : this.tokens;
    if (map.get(change.key) !== change.next) {
      return;
    }
    if (change.previous) {
      map.set(change.key, change.previous);
    } else {
      map.delete(change.key);
    }
  }

  /**
   * Replay of a persisted record (embedded adapter), in log order. An expired record still removes the
   * entry it superseded: a fresher token that has expired must not bring back the older one it replaced.
   */
  restore(kind: 'claim', key: string, entry: ClaimEntry): void;
  restore(kind: 'token', key: string, entry: TokenEntry): void;
  restore(kind: 'claim' | 'token', key: string, entry: ClaimEntry | TokenEntry): void {
    const map: Map<string, ClaimEntry | TokenEntry> = kind === 'claim' ? this.claims : this.tokens;
    if (entry.expiresAt <= this.now()) {
      map.delete(key);
    } else {
      map.set(key, entry);
    }
  }

  /** Drops expired entries and returns the live claims and tokens (what a compacted log must hold). */
  sweep(): { claims: Map<string, ClaimEntry>; tokens: Map<string, TokenEntry> } {
    const at = this.now();
    for (const map of [this.claims, this.tokens, this.leases, this.fenced] as Array<
      Map<string, { expiresAt: number }>
    >) {
      for (const [key, entry] of map) {
        if (entry.expiresAt <= at) {
          map.delete(key);
        }
      }
    }
    this.writesSinceSweep = 0;
    return { claims: this.claims, tokens: this.tokens };
  }

  /** Number of claims and tokens held, expired or not (cheap; `sweep()` first for an exact live count). */
  get size(): number {
    return this.claims.size + this.tokens.size;
  }

  private noteWrite(): void {
    this.writesSinceSweep += 1;
    if (this.writesSinceSweep >= SWEEP_EVERY_WRITES) {
      this.sweep();
    }
  }

  private liveClaim(key: string, at: number): ClaimEntry | undefined {
    const entry = this.claims.get(key);
    return entry && entry.expiresAt > at ? entry : undefined;
  }

  private liveToken(key: string, at: number): TokenEntry | undefined {
    const entry = this.tokens.get(key);
    return entry && entry.expiresAt > at ? entry : undefined;
  }

  private liveLease(name: string, at: number): LeaseEntry | undefined {
    const entry = this.leases.get(name);
    return entry && entry.expiresAt > at ? entry : undefined;
  }
}
