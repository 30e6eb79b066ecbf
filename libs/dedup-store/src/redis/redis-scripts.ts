// Lua scripts of the Redis adapter. Each runs atomically on the server, which is what makes "claim or
// tell me who owns it" and "replace only if fresher / only if mine" single steps without WATCH/MULTI.
// ioredis sends them with EVALSHA (EVAL the first time on each connection, so a restarted Redis that lost
// its script cache is handled without a NOSCRIPT round trip).

/**
 * KEYS[i] claim key; ARGV[2i-1] its owner; ARGV[2i] its ttl ms. Returns one reply per key, in order: 1 when this
 * call claimed the key, else the current owner (a bulk string; never nil, the script is atomic). One command per
 * batch rather than one per key: ioredis's per-command cost was a tenth of dedup's CPU. Needs one Redis (not Redis
 * Cluster): the keys of a batch fall in any slot.
 */
export const CLAIM_MANY_SCRIPT = `
local out = {}
for i, key in ipairs(KEYS) do
  if redis.call('SET', key, ARGV[2 * i - 1], 'NX', 'PX', ARGV[2 * i]) then
    out[i] = 1
  else
    out[i] = redis.call('GET', key)
  end
end
return out
`;

/**
 * KEYS[1] token hash; ARGV[1] token; ARGV[2] receivedAt (epoch ms); ARGV[3] ttl ms.
 * Keeps the record with the greater receivedAt (a tie replaces). Returns 1 when stored, 0 when older.
 */
export const OFFER_TOKEN_SCRIPT = `
local current = redis.call('HGET', KEYS[1], 'r')
if current and tonumber(current) > tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], 't', ARGV[1], 'r', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`;

/**
 * KEYS[1] lease key; ARGV[1] owner; ARGV[2] ttl ms.
 * Takes a free lease, or extends it when ARGV[1] already holds it. Returns 1 when held by ARGV[1].
 */
export const ACQUIRE_LEASE_SCRIPT = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
`;

/** KEYS[1] lease key; ARGV[1] owner; ARGV[2] ttl ms. Extends only the owner's own lease. */
export const RENEW_LEASE_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
`;

/** KEYS[1] lease key; ARGV[1] owner. Deletes the lease only while ARGV[1] holds it. */
export const RELEASE_LEASE_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`;

/**
 * KEYS[1] fenced lease hash {o: owner, t: token}; KEYS[2] the name's fence counter; ARGV[1] owner; ARGV[2] ttl ms;
 * ARGV[3] how long the counter outlives its last use (ms). Returns the token when ARGV[1] holds the lease, else 0.
 * A new holder's token is INCR of the counter, so it exceeds every earlier holder's; the holder re-acquiring
 * keeps its token.
 */
export const ACQUIRE_FENCED_LEASE_SCRIPT = `
local owner = redis.call('HGET', KEYS[1], 'o')
if owner == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return tonumber(redis.call('HGET', KEYS[1], 't'))
end
if owner then return 0 end
local token = redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
redis.call('HSET', KEYS[1], 'o', ARGV[1], 't', token)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return token
`;

/**
 * KEYS[1] fenced lease hash; ARGV[1] owner; ARGV[2] token; ARGV[3] ttl ms. Extends it only for that owner and token.
 */
export const RENEW_FENCED_LEASE_SCRIPT = `
if redis.call('HGET', KEYS[1], 'o') == ARGV[1] and redis.call('HGET', KEYS[1], 't') == ARGV[2] then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return 1
end
return 0
`;

/** KEYS[1] fenced lease hash; ARGV[1] owner; ARGV[2] token. Deletes it only for that owner and token. */
export const RELEASE_FENCED_LEASE_SCRIPT = `
if redis.call('HGET', KEYS[1], 'o') == ARGV[1] and redis.call('HGET', KEYS[1], 't') == ARGV[2] then
  return redis.call('DEL', KEYS[1])
end
return 0
`;
