import { backoffDelay } from '@zoom-pipeline/async-kit';
import { Redis } from 'ioredis';
import type { ClaimRequest, ClaimResult, DedupStore, FencedLease, TokenRecord } from '../dedup-store.port';
import { DedupStoreUnavailableError } from '../dedup-store.port';
import { assertClaimRequests, assertFencedLease, assertName, assertTokenOffer, assertTtl } from '../state/validate';
import {
  ACQUIRE_FENCED_LEASE_SCRIPT,
  ACQUIRE_LEASE_SCRIPT,
  CLAIM_MANY_SCRIPT,
  OFFER_TOKEN_SCRIPT,
  RELEASE_FENCED_LEASE_SCRIPT,
  RELEASE_LEASE_SCRIPT,
  RENEW_FENCED_LEASE_SCRIPT,
  RENEW_LEASE_SCRIPT,
} from './redis-scripts';

/**
 * How long a fence counter outlives its last acquisition. Tokens must only grow while a former holder could still
 * act on its lease; a week is far beyond any pause, and keeps one small key per lease name from living forever.
 */
const FENCE_COUNTER_TTL_MS = 7 * 24 * 3_600_000;

export interface RedisDedupStoreOptions {
  /** `redis://[user:password@]host:port[/db]` (or `rediss://`). Never appears in errors. */
  url: string;
  /** Prefix of every key, so several deployments or test files can share one Redis. Default `zp:`. */
  keyPrefix?: string;
  /** How long the first connection may take before calls fail. Default 2000 ms. */
  connectTimeoutMs?: number;
  /** Per-command deadline; a hung Redis fails calls after this. Default 1000 ms. */
  commandTimeoutMs?: number;
}

/** The scripts registered with `defineCommand`; ioredis adds them at runtime, so we declare them here. */
interface ScriptCommands<R> {
  zpClaimMany(numberOfKeys: number, ...keysThenArgs: Array<string | number>): R;
  zpOfferToken(key: string, token: string, receivedAt: number, ttlMs: number): R;
  zpAcquireLease(key: string, owner: string, ttlMs: number): R;
  zpRenewLease(key: string, owner: string, ttlMs: number): R;
  zpReleaseLease(key: string, owner: string): R;
  zpAcquireFencedLease(key: string, fenceKey: string, owner: string, ttlMs: number, fenceTtlMs: number): R;
  zpRenewFencedLease(key: string, owner: string, token: number, ttlMs: number): R;
  zpReleaseFencedLease(key: string, owner: string, token: number): R;
}
type ScriptedRedis = Redis & ScriptCommands<Promise<unknown>>;

/**
 * Reconnect backoff: 100, 200, 400, 800 ms, then every second, forever (the adapter is never recreated). ioredis
 * counts attempts from 1; no jitter (one client per process).
 */
const retryStrategy = (attempt: number): number =>
  backoffDelay(attempt + 1, { initialMs: 50, maxMs: 1_000 }, { jitter: 'none' });

/**
 * Dedup store on Redis (cluster mode). Key layout under `keyPrefix`:
 *   claim:<key>   string = owner, PX = claim TTL          (SET NX PX, Lua: claim or return owner)
 *   token:<key>   hash {t: token, r: receivedAt}, PX     (Lua compare-and-set on r)
 *   lease:<name>  string = owner, PX                      (SET NX PX; renew/release compare the owner)
 *   fenced:<name> hash {o: owner, t: token}, PX           (fenced lease; renew/release compare owner and token)
 *   fence:<name>  integer, the last token handed out      (INCR; PX a week after the last acquisition)
 *
 * Availability: calls never wait in an offline queue. While Redis is unreachable they reject at once
 * (or after `commandTimeoutMs` for a hung server) with `DedupStoreUnavailableError`, so the consumer
 * backs off instead of piling up work; ioredis keeps reconnecting in the background and the same
 * instance works again once Redis is back. Only the very first connection is waited for (bounded by
 * `connectTimeoutMs`), so a call right after start-up does not fail spuriously.
 *
 * Durability is Redis's: without AOF (`appendonly yes`, `appendfsync everysec` or `always`) a Redis
 * restart forgets every claim, and retried deliveries inside the window become new events (README).
 */
export class RedisDedupStore implements DedupStore {
  private readonly redis: ScriptedRedis;
  private readonly prefix: string;
  private readonly connectTimeoutMs: number;
  private readonly secret: string | undefined;
  private everReady = false;
  private lastError: string | undefined;
  private closing: Promise<void> | undefined;

  constructor(options: RedisDedupStoreOptions) {
    assertName(options.url, 'url');
    this.prefix = options.keyPrefix ?? 'zp:';
    this.connectTimeoutMs = options.connectTimeoutMs ?? 2000;
    const commandTimeoutMs = options.commandTimeoutMs ?? 1000;
    assertTtl(this.connectTimeoutMs, 'connectTimeoutMs');
    assertTtl(commandTimeoutMs, 'commandTimeoutMs');
    this.secret = passwordOf(options.url);
    const redis = new Redis(options.url, {
      connectTimeout: this.connectTimeoutMs,
      commandTimeout: commandTimeoutMs,
      // Fail fast instead of queueing: commands issued while disconnected reject immediately...
      enableOfflineQueue: false,
      // ...commands in flight when the connection drops reject at the first reconnect attempt...
      maxRetriesPerRequest: 0,
      // ...and are not replayed later, after their caller has already been told they failed.
      autoResendUnfulfilledCommands: false,
      retryStrategy,
      // After QUIT/disconnect, destroy a socket that does not close by itself within this time.
      disconnectTimeout: 200,
      // 'ready' only once Redis has finished loading its AOF after a restart: claims are back by then.
      enableReadyCheck: true,
      lazyConnect: false,
    });
    redis.on('ready', () => {
      this.everReady = true;
      this.lastError = undefined;
    });
    // Without a listener ioredis prints every connection error; keep the last one for error messages.
    redis.on('error', (err: Error) => {
      this.lastError = this.redact(err.message);
    });
    // Variable key count: given as the first argument of each call.
    redis.defineCommand('zpClaimMany', { lua: CLAIM_MANY_SCRIPT });
    redis.defineCommand('zpOfferToken', { numberOfKeys: 1, lua: OFFER_TOKEN_SCRIPT });
    redis.defineCommand('zpAcquireLease', { numberOfKeys: 1, lua: ACQUIRE_LEASE_SCRIPT });
    redis.defineCommand('zpRenewLease', { numberOfKeys: 1, lua: RENEW_LEASE_SCRIPT });
    redis.defineCommand('zpReleaseLease', { numberOfKeys: 1, lua: RELEASE_LEASE_SCRIPT });
    redis.defineCommand('zpAcquireFencedLease', { numberOfKeys: 2, lua: ACQUIRE_FENCED_LEASE_SCRIPT });
    redis.defineCommand('zpRenewFencedLease', { numberOfKeys: 1, lua: RENEW_FENCED_LEASE_SCRIPT });
    redis.defineCommand('zpReleaseFencedLease', { numberOfKeys: 1, lua: RELEASE_FENCED_LEASE_SCRIPT });
    this.redis = redis as ScriptedRedis;
  }

  /** One round trip: one script call claiming every key, results in request order. */
  async claimMany(requests: ClaimRequest[]): Promise<ClaimResult[]> {
    assertClaimRequests(requests);
    if (requests.length === 0) {
      return [];
    }
    const args: Array<string | number> = requests.map((r) => this.key('claim', r.key));
    for (const r of requests) args.push(r.owner, r.ttlMs);
    const replies = await this.run('claimMany', () => this.redis.zpClaimMany(requests.length, ...args));
    if (!Array.isArray(replies) || replies.length !== requests.length) {
      throw new DedupStoreUnavailableError('redis claimMany failed: incomplete reply');
    }
    return replies.map((reply: unknown, index): ClaimResult => {
      // The script returns the integer 1 for a new claim and the owner as a bulk string otherwise,
      // so an owner named "1" is still told apart by type.
      if (typeof reply === 'number') {
        return { status: 'claimed' };
      }
      const owner = Buffer.isBuffer(reply) ? reply.toString('utf8') : String(reply);
      return owner === requests[index]!.owner ? { status: 'owned' } : { status: 'duplicate', owner };
    });
  }

  /** One MGET of the claim keys. */
  async peekClaims(keys: string[]): Promise<Array<string | null>> {
    keys.forEach((k, i) => assertName(k, `keys[${i}]`));
    if (keys.length === 0) return [];
    const replies = await this.run('peekClaims', () => this.redis.mget(...keys.map((k) => this.key('claim', k))));
    return replies.map((r) => (r === null ? null : String(r)));
  }

  async offerToken(key: string, record: TokenRecord, ttlMs: number): Promise<void> {
    assertTokenOffer(key, record, ttlMs);
    await this.run('offerToken', () =>
      this.redis.zpOfferToken(this.key('token', key), record.token, record.receivedAt, ttlMs),
    );
  }

  async getToken(key: string): Promise<TokenRecord | null> {
    assertName(key, 'key');
    const [token, receivedAt] = await this.run('getToken', () => this.redis.hmget(this.key('token', key), 't', 'r'));
    if (token === null || receivedAt === null) {
      return null;
    }
    return { token, receivedAt: Number(receivedAt) };
  }

  async acquireLease(name: string, owner: string, ttlMs: number): Promise<boolean> {
    assertName(name, 'name');
    assertName(owner, 'owner');
    assertTtl(ttlMs);
    const reply = await this.run('acquireLease', () =>
      this.redis.zpAcquireLease(this.key('lease', name), owner, ttlMs),
    );
    return reply === 1;
  }

  async renewLease(name: string, owner: string, ttlMs: number): Promise<boolean> {
    assertName(name, 'name');
    assertName(owner, 'owner');
    assertTtl(ttlMs);
    const reply = await this.run('renewLease', () => this.redis.zpRenewLease(this.key('lease', name), owner, ttlMs));
    return reply === 1;
  }

  async releaseLease(name: string, owner: string): Promise<void> {
    assertName(name, 'name');
    assertName(owner, 'owner');
    await this.run('releaseLease', () => this.redis.zpReleaseLease(this.key('lease', name), owner));
  }

  async acquireFencedLease(name: string, owner: string, ttlMs: number): Promise<FencedLease | null> {
    assertName(name, 'name');
    assertName(owner, 'owner');
    assertTtl(ttlMs);
    const reply = await this.run('acquireFencedLease', () =>
      this.redis.zpAcquireFencedLease(
        this.key('fenced', name),
        this.key('fence', name),
        owner,
        ttlMs,
        FENCE_COUNTER_TTL_MS,
      ),
    );
    const token = Number(reply);
    return Number.isSafeInteger(token) && token > 0 ? { name, owner, token } : null;
  }

  async renewFencedLease(lease: FencedLease, ttlMs: number): Promise<boolean> {
    assertFencedLease(lease);
    assertTtl(ttlMs);
    const reply = await this.run('renewFencedLease', () =>
      this.redis.zpRenewFencedLease(this.key('fenced', lease.name), lease.owner, lease.token, ttlMs),
    );
    return reply === 1;
  }

  async releaseFencedLease(lease: FencedLease): Promise<void> {
    assertFencedLease(lease);
    await this.run('releaseFencedLease', () =>
      this.redis.zpReleaseFencedLease(this.key('fenced', lease.name), lease.owner, lease.token),
    );
  }

  /**
   * PING within the command timeout; never throws. Right after construction it waits for the first
   * connection (bounded by `connectTimeoutMs`); during an outage it answers false at once.
   */
  async isReady(): Promise<boolean> {
    try {
      await this.connected('isReady');
      return (await this.redis.ping()) === 'PONG';
    } catch {
      return false;
    }
  }

  /**
   * Idempotent. QUIT when connected (replies in flight still arrive), else drop the socket and stop
   * reconnecting; resolves once the connection has ended (bounded, so shutdown never hangs on it).
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.redis.status === 'end') {
        return;
      }
      const ended = new Promise<void>((resolve) => {
        this.redis.once('end', () => resolve());
        setTimeout(resolve, 1_000).unref();
      });
      if (this.redis.status === 'ready') {
        await this.redis.quit().catch(() => this.redis.disconnect(false));
      } else {
        this.redis.disconnect(false);
      }
      await ended;
    })();
    return this.closing;
  }

  private key(kind: 'claim' | 'token' | 'lease' | 'fenced' | 'fence', name: string): string {
    return `${this.prefix}${kind}:${name}`;
  }

  private async run<T>(op: string, command: () => Promise<T>): Promise<T> {
    await this.connected(op);
    try {
      return await command();
    } catch (err) {
      throw this.unavailable(op, err);
    }
  }

  /**
   * Ready now, or fail at once; the first connection after start-up is the one exception worth waiting
   * for (bounded), because nothing is wrong yet.
   */
  private async connected(op: string): Promise<void> {
    if (this.closing) {
      throw new DedupStoreUnavailableError(`redis ${op} failed: the store is closed`);
    }
    const status = this.redis.status;
    if (status === 'ready') {
      return;
    }
    if (this.everReady || status === 'end') {
      throw new DedupStoreUnavailableError(`redis ${op} failed: not connected (${status}${this.lastErrorSuffix()})`);
    }
    await new Promise<void>((resolve, reject) => {
      const cleanup = (): void => {
        clearTimeout(timer);
        this.redis.off('ready', onReady);
        this.redis.off('end', onEnd);
      };
      const onReady = (): void => {
        cleanup();
        resolve();
      };
      const onEnd = (): void => {
        cleanup();
        reject(new DedupStoreUnavailableError(`redis ${op} failed: connection closed`));
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(
          new DedupStoreUnavailableError(
            `redis ${op} failed: not connected within ${this.connectTimeoutMs} ms${this.lastErrorSuffix()}`,
          ),
        );
      }, this.connectTimeoutMs);
      this.redis.once('ready', onReady);
      this.redis.once('end', onEnd);
    });
  }

  /**
   * The original error is deliberately not attached as `cause`: ioredis errors carry `command.args`,
   * i.e. keys, owners and download tokens (and AUTH's password), which would reach logs that print causes.
   */
  private unavailable(op: string, err: unknown): DedupStoreUnavailableError {
    if (err instanceof DedupStoreUnavailableError) {
      return err;
    }
    const text = err instanceof Error ? `${err.name}: ${err.message}` : 'unknown error';
    return new DedupStoreUnavailableError(`redis ${op} failed: ${this.redact(text)}`);
  }

  private lastErrorSuffix(): string {
    return this.lastError ? `; last error: ${this.lastError}` : '';
  }

  private redact(text: string): string {
    return this.secret ? text.split(this.secret).join('***') : text;
  }
}

function passwordOf(url: string): string | undefined {
  try {
    const password = decodeURIComponent(new URL(url).password);
    return password.length > 0 ? password : undefined;
  } catch {
    return undefined;
  }
}
