// DedupStore contract against the real Redis started by scripts/infra.sh, plus what only Redis can show:
// behaviour while Redis restarts, and memory per claimed key.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { DedupStoreUnavailableError, RedisDedupStore } from '@zoom-pipeline/dedup-store';
import { describeDedupStoreContract, randomDedupKey } from '@zoom-pipeline/dedup-store/testing';
import { loadEndpoints, uniqueName } from '@zoom-pipeline/test-support';

const { redisUrl } = loadEndpoints();
const keyPrefix = `${uniqueName('dedup-int')}:`;
const repoRoot = resolve(__dirname, '../..');

jest.setTimeout(60_000);

let current: RedisDedupStore | undefined;
describeDedupStoreContract('redis', {
  create: async () => new RedisDedupStore({ url: redisUrl, keyPrefix }),
  // A dedup pod restart: a new adapter on the same Redis (Redis itself keeps running).
  reopen: async () => {
    await current?.close();
    current = new RedisDedupStore({ url: redisUrl, keyPrefix });
    return current;
  },
});

/** Runs `scripts/infra.sh restart redis`; resolves when it exits 0, with its stderr for diagnostics. */
function restartRedis(): Promise<void> {
  return new Promise((done, fail) => {
    const child = spawn('bash', [resolve(repoRoot, 'scripts/infra.sh'), 'restart', 'redis'], {
      cwd: repoRoot,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', fail);
    child.on('exit', (code) =>
      code === 0 ? done() : fail(new Error(`infra.sh restart redis exited ${code}: ${stderr}`)),
    );
  });
}

describe('RedisDedupStore (Redis only)', () => {
  const stores: RedisDedupStore[] = [];
  const make = (options: Partial<ConstructorParameters<typeof RedisDedupStore>[0]> = {}): RedisDedupStore => {
    const store = new RedisDedupStore({ url: redisUrl, keyPrefix, ...options });
    stores.push(store);
    return store;
  };
  afterAll(async () => {
    await Promise.all(stores.map((store) => store.close()));
  });

  it('fails fast with DedupStoreUnavailableError when Redis is unreachable, without the password', async () => {
    const store = make({ url: 'redis://zp:s3cr3t-pass@127.0.0.1:1', connectTimeoutMs: 300 });

    const started = Date.now();
    const error = await store
      .claimMany([{ key: randomDedupKey(), owner: 'raw/0/1', ttlMs: 1000 }])
      .catch((err: unknown) => err);

    expect(error).toBeInstanceOf(DedupStoreUnavailableError);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect((error as Error).message).not.toContain('s3cr3t-pass');
    // ioredis errors carry the command arguments (keys, tokens, AUTH password): never attached.
    expect((error as Error).cause).toBeUndefined();
    expect(await store.isReady()).toBe(false);
  });

  it('rejects quickly while Redis restarts and works again afterwards with the same instance', async () => {
    const store = make({ commandTimeoutMs: 500 });
    expect(await store.isReady()).toBe(true);
    await store.claimMany([{ key: randomDedupKey(), owner: 'raw/0/1', ttlMs: 60_000 }]);

    const outcomes: Array<{ ok: boolean; ms: number; error?: unknown }> = [];
    let restarting = true;
    const restart = restartRedis().finally(() => {
      restarting = false;
    });
    while (restarting) {
      const started = Date.now();
      try {
        await store.claimMany([{ key: randomDedupKey(), owner: 'raw/0/2', ttlMs: 60_000 }]);
        outcomes.push({ ok: true, ms: Date.now() - started });
      } catch (error) {
        outcomes.push({ ok: false, ms: Date.now() - started, error });
      }
      await sleep(20);
    }
    await restart;

    const failures = outcomes.filter((o) => !o.ok);
    expect(failures.length).toBeGreaterThan(0);
    for (const failure of failures) {
      expect(failure.error).toBeInstanceOf(DedupStoreUnavailableError);
      // No offline queue: at most one command timeout, never a wait for the reconnect.
      expect(failure.ms).toBeLessThan(1_000);
    }

    // ioredis reconnects on its own (backoff capped at 1 s); the adapter is not recreated.
    const backAt = Date.now();
    const deadline = backAt + 10_000;
    let recovered = false;
    while (!recovered && Date.now() < deadline) {
      recovered = await store
        .claimMany([{ key: randomDedupKey(), owner: 'raw/0/3', ttlMs: 60_000 }])
        .then(() => true)
        .catch(() => false);
      if (!recovered) {
        await sleep(50);
      }
    }
    const recoveredAt = Date.now();
    expect(recovered).toBe(true);
    expect(await store.isReady()).toBe(true);
    expect(await store.acquireLease(`file-${randomDedupKey()}`, 'uploader-a', 60_000)).toBe(true);
    const slowest = Math.max(...failures.map((f) => f.ms));
    console.log(
      `[redis restart] ${outcomes.length} calls during the restart, ${failures.length} rejected ` +
        `(slowest rejection ${slowest} ms); working again ${recoveredAt - backAt} ms after the restart script returned`,
    );
  });

  it('uses a bounded amount of Redis memory per claimed key (measured)', async () => {
    // A prefix as short as production's `zp:`, so the measured key length is realistic.
    const prefix = `zp${randomBytes(3).toString('hex')}:`;
    // A database of its own (DB 9): the used_memory delta includes the growth of the keyspace's hash tables,
    // which depends on how many keys are already there (a shared Redis holding benchmark keys measured 391 B/key
    // where an empty keyspace measures ~245). Production runs the dedup keys in their own Redis or DB too.
    const url = `${redisUrl.replace(/\/\d*$/, '')}/9`;
    const store = make({ url, keyPrefix: prefix, commandTimeoutMs: 5_000 });
    const admin = new Redis(url);
    try {
      const usedMemory = async (): Promise<number> => {
        const info = await admin.info('memory');
        return Number(/used_memory:(\d+)/.exec(info)![1]);
      };
      const count = 100_000;
      const before = await usedMemory();
      const started = Date.now();
      let sampleKey = '';
      for (let offset = 0; offset < count; offset += 1_000) {
        const batch = Array.from({ length: 1_000 }, (_, i) => ({
          key: randomDedupKey(),
          owner: `zoom.webhooks.raw/${i % 12}/${1_000_000_000 + offset + i}`,
          ttlMs: 120_000,
        }));
        sampleKey = batch[0]!.key;
        const results = await store.claimMany(batch);
        expect(results.every((r) => r.status === 'claimed')).toBe(true);
      }
      const elapsed = Date.now() - started;
      const after = await usedMemory();
      const perKey = (after - before) / count;
      const sample = Number(await admin.call('MEMORY', 'USAGE', `${prefix}claim:${sampleKey}`, 'SAMPLES', '0'));
      // A download token is a JWT-like string of a few hundred characters.
      const tokenKey = randomDedupKey();
      await store.offerToken(
        tokenKey,
        { token: randomBytes(200).toString('base64url'), receivedAt: Date.now() },
        120_000,
      );
      const tokenBytes = Number(await admin.call('MEMORY', 'USAGE', `${prefix}token:${tokenKey}`, 'SAMPLES', '0'));
      console.log(`[redis memory] token hash with a 267-character token: MEMORY USAGE ${tokenBytes} B`);
      console.log(
        `[redis memory] ${count} claims: used_memory +${after - before} B = ${perKey.toFixed(1)} B/key; ` +
          (`MEMORY USAGE of one claim key = ${sample} B; ${Math.round(count / (elapsed / 1000))} claims/s in ` +
            'pipelines of 1000'),
      );
      expect(perKey).toBeLessThan(300);
      expect(sample).toBeLessThan(300);
    } finally {
      // Drop the 100k keys rather than wait for their TTL.
      let cursor = '0';
      do {
        const [next, keys] = await admin.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 5_000);
        cursor = next;
        if (keys.length > 0) {
          await admin.unlink(...keys);
        }
      } while (cursor !== '0');
      await admin.quit();
    }
  });
});
