// AccountsStore contract against the real Redis started by scripts/infra.sh, what the raw Redis values hold, and two
// real processes refreshing one link at once (Zoom rotates refresh tokens: exactly one refresh may reach Zoom).
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { Redis } from 'ioredis';
import {
  LinkedAccounts,
  RedisAccountsStore,
  TokenCipher,
  ZoomOAuthClient,
  pkcePair,
} from '@zoom-pipeline/accounts-store';
import { describeAccountsStoreContract, sampleLink } from '@zoom-pipeline/accounts-store/testing';
import { loadEndpoints, uniqueName } from '@zoom-pipeline/test-support';
import { type OAuthServer, startOAuthServer } from '@zoom-pipeline/zoom-sim';

const { redisUrl } = loadEndpoints();
const keyPrefix = `${uniqueName('accounts-int')}:accounts:`;
const repoRoot = resolve(__dirname, '../..');

jest.setTimeout(60_000);

let current: RedisAccountsStore | undefined;
describeAccountsStoreContract('redis', {
  create: async () => new RedisAccountsStore({ url: redisUrl, keyPrefix }),
  reopen: async () => {
    await current?.close();
    current = new RedisAccountsStore({ url: redisUrl, keyPrefix });
    return current;
  },
});

describe('accounts on Redis: tokens at rest and refresh across processes', () => {
  const key = { id: 'k1', key: randomBytes(32) };
  let sim: OAuthServer;
  let store: RedisAccountsStore;
  const raw = new Redis(redisUrl);
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    sim = await startOAuthServer({ accessTokenTtlSec: 60 });
    store = new RedisAccountsStore({ url: redisUrl, keyPrefix });
  });
  afterAll(async () => {
    for (const c of children) c.kill('SIGKILL');
    await store.close();
    raw.disconnect();
    await sim.close();
  });

  const client = (): ZoomOAuthClient =>
    new ZoomOAuthClient({
      clientId: sim.clientId,
      clientSecret: sim.clientSecret,
      oauthBaseUrl: sim.url,
      apiBaseUrl: `${sim.url}/v2`,
    });

  /**
   * A link whose access token is due for a refresh (60 s left, inside the 5 min margin), made through zoom-sim's OAuth.
   */
  async function linkedUser(): Promise<{ appUserId: string; linked: LinkedAccounts }> {
    const user = sim.addUser();
    sim.consentAs(user.id);
    const { verifier, challenge } = pkcePair();
    const oauth = client();
    const redirectUri = 'https://pipeline.example.com/oauth/zoom/callback';
    const atZoom = await fetch(oauth.authorizeUrl({ state: 's', codeChallenge: challenge, redirectUri }), {
      redirect: 'manual',
    });
    const code = new URL(atZoom.headers.get('location')!).searchParams.get('code')!;
    const tokens = await oauth.exchangeCode({ code, codeVerifier: verifier, redirectUri });
    const linked = new LinkedAccounts(store, new TokenCipher(key), oauth, { refreshMarginMs: 5 * 60_000 });
    const appUserId = `app-${randomBytes(4).toString('hex')}`;
    await store.saveLink(
      sampleLink({
        appUserId,
        zoomUserId: user.id,
        accountId: user.accountId,
        tokens: linked.sealTokens(appUserId, tokens),
      }),
    );
    return { appUserId, linked };
  }

  it('keeps tokens only sealed in the raw Redis value', async () => {
    const { appUserId } = await linkedUser();
    const value = (await raw.get(`${keyPrefix}link:${appUserId}`))!;
    expect(JSON.parse(value).tokens).toMatch(/^zpe1\.k1\./);
    for (const t of sim.issuedTokens()) expect(value).not.toContain(t);
  });

  it('two processes refresh one link at once: one refresh reaches Zoom, both get the same token', async () => {
    const main = resolve(repoRoot, 'dist/libs/accounts-store/src/index.js');
    if (!existsSync(main)) throw new Error(`${main} is missing: run \`npm run build\` first`);
    const { appUserId } = await linkedUser();
    sim.setAccessTokenTtl(3600);
    // Each child: its own Redis connection and LinkedAccounts; it waits for "go" on stdin, then asks for a token.
    const program = `
      const a = require(${JSON.stringify(main)});
      const env = process.env;
      const store = new a.RedisAccountsStore({ url: env.REDIS_URL, keyPrefix: env.PREFIX });
      const oauth = new a.ZoomOAuthClient({
        clientId: env.CID, clientSecret: env.CSECRET, oauthBaseUrl: env.SIM, apiBaseUrl: env.SIM + '/v2',
      });
      const cipher = new a.TokenCipher({ id: 'k1', key: Buffer.from(env.KEY, 'base64') });
      const linked = new a.LinkedAccounts(store, cipher, oauth, { refreshMarginMs: 300000 });
      store.isReady().then(() => process.stdout.write('ready\\n'));
      process.stdin.once('data', async () => {
        const token = await linked.accessToken(env.APP_USER);
        process.stdout.write(JSON.stringify({ token }) + '\\n');
        await store.close();
      });`;
    const env = {
      PATH: process.env.PATH ?? '',
      REDIS_URL: redisUrl,
      PREFIX: keyPrefix,
      CID: sim.clientId,
      CSECRET: sim.clientSecret,
      SIM: sim.url,
      KEY: key.key.toString('base64'),
      APP_USER: appUserId,
    };
    const outputs = [0, 1].map(() => {
      const child = spawn(process.execPath, ['-e', program], { env, stdio: ['pipe', 'pipe', 'inherit'] });
      children.push(child);
      let out = '';
      const lines = new Promise<string[]>((done) => {
        child.stdout!.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('{')) done(out.trim().split('\n'));
        });
      });
      const ready = new Promise<void>((r) => child.stdout!.on('data', () => out.includes('ready') && r()));
      return { child, ready, lines };
    });
    await Promise.all(outputs.map((o) => o.ready));
    const before = sim.stats().refreshes;
    for (const o of outputs) o.child.stdin!.write('go\n');
    const tokens = await Promise.all(outputs.map(async (o) => JSON.parse((await o.lines).at(-1)!).token as string));
    expect(sim.stats().refreshes - before).toBe(1);
    expect(sim.stats().refreshFailures).toBe(0);
    expect(tokens[0]).toBe(tokens[1]);
    expect(sim.isAccessTokenValid(tokens[0])).toBe(true);
  });
});
