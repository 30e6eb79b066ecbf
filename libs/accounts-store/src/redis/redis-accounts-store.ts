import { Redis } from 'ioredis';
import type { AccountsStore, LinkRecord, OnceKind } from '../accounts-store.port';
import { AccountsStoreUnavailableError, LinkConflictError, routes } from '../accounts-store.port';

export interface RedisAccountsStoreOptions {
  /** `redis://…`; never appears in errors. */
  url: string;
  /** Prefix of every key (REDIS_KEY_PREFIX + `accounts:`). */
  keyPrefix?: string;
  commandTimeoutMs?: number;
}

// Unindexes the old link (only index entries that still name this app user), checks the new ones, writes.
// KEYS[1] link key; ARGV: prefix, appUserId, json ('' = delete), zoomUserId, accountId ('' unless level account),
// routes '1'|'0'
const SAVE_LINK_SCRIPT = `
local p, app = ARGV[1], ARGV[2]
local zk = p .. 'zoomuser:' .. ARGV[4]
local ak = nil
if ARGV[5] ~= '' then ak = p .. 'account:' .. ARGV[5] end
if ARGV[6] == '1' then
  local z = redis.call('GET', zk)
  if z and z ~= app then return 'conflict' end
  if ak then
    local a = redis.call('GET', ak)
    if a and a ~= app then return 'conflict' end
  end
end
local old = redis.call('GET', KEYS[1])
if old then
  local o = cjson.decode(old)
  local ozk = p .. 'zoomuser:' .. o.zoomUserId
  if redis.call('GET', ozk) == app then redis.call('DEL', ozk) end
  local oak = p .. 'account:' .. o.accountId
  if redis.call('GET', oak) == app then redis.call('DEL', oak) end
end
if ARGV[3] == '' then
  redis.call('DEL', KEYS[1])
  return 'ok'
end
redis.call('SET', KEYS[1], ARGV[3])
if ARGV[6] == '1' then
  redis.call('SET', zk, app)
  if ak then redis.call('SET', ak, app) end
end
return 'ok'
`;
const RELEASE_LOCK_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

type ScriptedRedis = Redis & {
  zpSaveLink(key: string, ...args: string[]): Promise<string>;
  zpReleaseLock(key: string, owner: string): Promise<number>;
};

/**
 * Accounts store on Redis. Key layout under the prefix:
 *   link:<appUserId>        JSON LinkRecord (tokens sealed)
 *   zoomuser:<zoomUserId>   appUserId (routing index; only routing links)
 *   account:<accountId>     appUserId (account-level links)
 *   once:<kind>:<digest>    sealed one-time value, PX = its lifetime (GETDEL = single use)
 *   lock:<name>             owner, PX (SET NX PX; release compares the owner)
 */
export class RedisAccountsStore implements AccountsStore {
  private readonly redis: ScriptedRedis;
  private readonly prefix: string;
  private closing: Promise<void> | undefined;

  constructor(options: RedisAccountsStoreOptions) {
    this.prefix = options.keyPrefix ?? 'zp:accounts:';
    const redis = new Redis(options.url, {
      commandTimeout: options.commandTimeoutMs ?? 2000,
      maxRetriesPerRequest: 1,
      retryStrategy: (attempt: number) => Math.min(50 * 2 ** attempt, 1000),
      lazyConnect: false,
    });
    // Without a listener ioredis prints every connection error (with the URL); callers get a redacted error instead.
    redis.on('error', () => undefined);
    redis.defineCommand('zpSaveLink', { numberOfKeys: 1, lua: SAVE_LINK_SCRIPT });
    redis.defineCommand('zpReleaseLock', { numberOfKeys: 1, lua: RELEASE_LOCK_SCRIPT });
    this.redis = redis as ScriptedRedis;
  }

  async putOnce(kind: OnceKind, id: string, value: string, ttlMs: number): Promise<void> {
    await this.run('putOnce', () =>
      this.redis.set(this.key(`once:${kind}`, id), value, 'PX', Math.max(1, Math.ceil(ttlMs))),
    );
  }

  async takeOnce(kind: OnceKind, id: string): Promise<string | null> {
    return this.run('takeOnce', () => this.redis.getdel(this.key(`once:${kind}`, id)));
  }

  async getLink(appUserId: string): Promise<LinkRecord | null> {
    const text = await this.run('getLink', () => this.redis.get(this.key('link', appUserId)));
    return text === null ? null : (JSON.parse(text) as LinkRecord);
  }

  async saveLink(link: LinkRecord): Promise<void> {
    const r = await this.run('saveLink', () =>
      this.redis.zpSaveLink(
        this.key('link', link.appUserId),
        this.prefix,
        link.appUserId,
        JSON.stringify(link),
        link.zoomUserId,
        link.level === 'account' ? link.accountId : '',
        routes(link.status) ? '1' : '0',
      ),
    );
    if (r === 'conflict') throw new LinkConflictError();
  }

  async deleteLink(appUserId: string): Promise<void> {
    await this.run('deleteLink', () =>
      this.redis.zpSaveLink(this.key('link', appUserId), this.prefix, appUserId, '', '', '', '0'),
    );
  }

  async appUserFor(query: { zoomUserId?: string; accountId?: string }): Promise<string | null> {
    if (query.zoomUserId) {
      const u = await this.run('appUserFor', () => this.redis.get(this.key('zoomuser', query.zoomUserId!)));
      if (u !== null) return u;
    }
    if (query.accountId) return this.run('appUserFor', () => this.redis.get(this.key('account', query.accountId!)));
    return null;
  }

  async acquireLock(name: string, owner: string, ttlMs: number): Promise<boolean> {
    const key = this.key('lock', name);
    const set = await this.run('acquireLock', () => this.redis.set(key, owner, 'PX', Math.ceil(ttlMs), 'NX'));
    if (set === 'OK') return true;
    return (await this.run('acquireLock', () => this.redis.get(key))) === owner;
  }

  async releaseLock(name: string, owner: string): Promise<void> {
    await this.run('releaseLock', () => this.redis.zpReleaseLock(this.key('lock', name), owner));
  }

  async isReady(): Promise<boolean> {
    if (this.redis.status !== 'ready') return false;
    try {
      return (await this.redis.ping()) === 'PONG';
    } catch {
      return false;
    }
  }

  close(): Promise<void> {
    this.closing ??= this.redis.quit().then(
      () => undefined,
      () => this.redis.disconnect(),
    );
    return this.closing;
  }

  private key(kind: string, name: string): string {
    return `${this.prefix}${kind}:${name}`;
  }

  private async run<T>(op: string, command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (err) {
      // ioredis messages can carry the URL (and its password): say only what failed.
      throw new AccountsStoreUnavailableError(`redis ${op} failed (${(err as Error).name})`, { cause: err });
    }
  }
}
