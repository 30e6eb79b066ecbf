import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import {
  MemoryAccountsStore,
  createLinkedAccounts,
  type LinkedAccounts,
  pkcePair,
} from '@zoom-pipeline/accounts-store';
import { loadConfig, type AppConfig } from '@zoom-pipeline/config';
import type { AccountLinkEvent } from '@zoom-pipeline/contracts';
import { HealthService, HttpError } from '@zoom-pipeline/service-kit';
import { createLogger } from '@zoom-pipeline/telemetry';
import { type OAuthServer, type SimZoomUser, startOAuthServer } from '@zoom-pipeline/zoom-sim';
import { AccountsService, CONFIRMATION_PARAM } from '@zoom-pipeline/accounts-feature';

// Unit tier: the memory store, zoom-sim's OAuth server on loopback. Redis and Kafka: test/e2e/accounts.e2e-spec.ts.
const RETURN = 'https://app.example.com/zoom/linked';

let sim: OAuthServer;
let zoomUser: SimZoomUser;
const logLines: string[] = [];
const events: AccountLinkEvent[] = [];

beforeAll(async () => {
  sim = await startOAuthServer({ redirectUris: ['https://pipeline.example.com/oauth/zoom/callback'] });
  zoomUser = sim.addUser();
});
afterAll(() => sim.close());

function setup(env: Record<string, string> = {}): {
  service: AccountsService;
  linked: LinkedAccounts;
  store: MemoryAccountsStore;
  config: AppConfig;
} {
  const config = loadConfig({
    ZOOM_WEBHOOK_SECRET_TOKEN: 's',
    ACCOUNTS_ENCRYPTION_KEY: `k1:${randomBytes(32).toString('base64')}`,
    ACCOUNTS_API_TOKEN: 'api-token-0123456789',
    ZOOM_OAUTH_CLIENT_ID: sim.clientId,
    ZOOM_OAUTH_CLIENT_SECRET: sim.clientSecret,
    ZOOM_OAUTH_REDIRECT_URL: 'https://pipeline.example.com/oauth/zoom/callback',
    ACCOUNTS_RETURN_URLS: 'https://app.example.com/zoom/',
    ZOOM_OAUTH_BASE_URL: sim.url,
    ZOOM_API_URL: `${sim.url}/v2`,
    ...env,
  });
  const store = new MemoryAccountsStore();
  const sink = { publish: async (e: AccountLinkEvent) => void events.push(e) };
  const linked = createLinkedAccounts(store, config.accounts!, sink);
  const logger = createLogger({
    name: 'test',
    level: 'debug',
    destination: new Writable({ write: (c, _e, cb) => (logLines.push(String(c)), cb()) }),
  });
  return { service: new AccountsService(config, linked, logger, sink, new HealthService()), linked, store, config };
}

/** What the browser does: follow authorizeUrl at zoom-sim (auto-consent), then the callback. */
async function consent(
  service: AccountsService,
  authorizeUrl: string,
): Promise<{ state: string; code: string; location: string }> {
  const res = await fetch(authorizeUrl, { redirect: 'manual' });
  const back = new URL(res.headers.get('location')!);
  const q = { code: back.searchParams.get('code')!, state: back.searchParams.get('state')! };
  return { ...q, location: await service.callback(q) };
}

async function refusal(p: Promise<unknown>): Promise<{ status: number; code: string }> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(HttpError);
  return { status: (err as HttpError).status, code: (err as HttpError).code };
}

describe('AccountsService (memory store, zoom-sim OAuth)', () => {
  it('links an app user: authorize URL with state and S256 PKCE, pending link, confirmation, active link', async () => {
    const { service, linked } = setup();
    const { authorizeUrl } = await service.start({ appUserId: 'u-1', returnUrl: `${RETURN}?tab=zoom` });
    const u = new URL(authorizeUrl);
    expect(Buffer.from(u.searchParams.get('state')!, 'base64url')).toHaveLength(32);
    expect(u.searchParams.get('code_challenge_method')).toBe('S256');
    const { location } = await consent(service, authorizeUrl);
    expect(location.startsWith(`${RETURN}?tab=zoom&${CONFIRMATION_PARAM}=`)).toBe(true);
    // Pending: nothing routes until the app confirms.
    expect(await linked.appUserFor({ zoomUserId: zoomUser.id })).toBeUndefined();
    const code = new URL(location).searchParams.get(CONFIRMATION_PARAM)!;
    const link = await service.confirm({ code, appUserId: 'u-1' });
    expect(link).toMatchObject({
      appUserId: 'u-1',
      zoomUserId: zoomUser.id,
      accountId: zoomUser.accountId,
      status: 'active',
    });
    expect(await linked.appUserFor({ zoomUserId: zoomUser.id })).toBe('u-1');
    expect(events.at(-1)).toMatchObject({ zoomUserId: zoomUser.id, appUserId: 'u-1', status: 'linked' });
    expect(await refusal(service.confirm({ code, appUserId: 'u-1' }))).toEqual({ status: 400, code: 'code_invalid' });
    await service.unlink('u-1');
    expect(await linked.appUserFor({ zoomUserId: zoomUser.id })).toBeUndefined();
    expect(events.at(-1)).toMatchObject({ status: 'revoked' });
  });

  it('refuses forged, replayed and expired state, and stores nothing', async () => {
    const { service, store } = setup({ ACCOUNTS_LINK_TTL: '300ms' });
    expect(await refusal(service.callback({ code: 'x', state: randomBytes(32).toString('base64url') }))).toEqual({
      status: 400,
      code: 'state_invalid',
    });
    const { authorizeUrl } = await service.start({ appUserId: 'u-2', returnUrl: RETURN });
    const { state, code } = await consent(service, authorizeUrl);
    expect(await refusal(service.callback({ code, state }))).toEqual({ status: 400, code: 'state_invalid' });
    const late = await service.start({ appUserId: 'u-2', returnUrl: RETURN });
    const res = await fetch(late.authorizeUrl, { redirect: 'manual' });
    const back = new URL(res.headers.get('location')!);
    await new Promise((r) => setTimeout(r, 400));
    expect(
      await refusal(service.callback({ code: back.searchParams.get('code')!, state: back.searchParams.get('state')! })),
    ).toEqual({ status: 400, code: 'state_invalid' });
    expect(await store.getLink('u-2')).toBeNull();
  });

  it('refuses confirming for another app user (login CSRF): links nothing, revokes the grant', async () => {
    const { service, store } = setup();
    const before = sim.stats().revocations;
    const { authorizeUrl } = await service.start({ appUserId: 'attacker', returnUrl: RETURN });
    const { location } = await consent(service, authorizeUrl);
    const code = new URL(location).searchParams.get(CONFIRMATION_PARAM)!;
    expect(await refusal(service.confirm({ code, appUserId: 'victim' }))).toEqual({
      status: 403,
      code: 'app_user_mismatch',
    });
    expect(await store.getLink('victim')).toBeNull();
    expect(await store.getLink('attacker')).toBeNull();
    expect(sim.stats().revocations).toBe(before + 1);
  });

  it('refuses a returnUrl outside the allow-list', async () => {
    const { service } = setup();
    for (const returnUrl of [
      'https://evil.example.com/zoom/',
      'https://app.example.com/other',
      'https://app.example.com.evil.io/zoom/',
      'https://user@app.example.com/zoom/x',
      'javascript:alert(1)',
    ]) {
      expect(await refusal(service.start({ appUserId: 'u-3', returnUrl }))).toEqual({
        status: 400,
        code: 'return_url_not_allowed',
      });
    }
  });

  it('refreshes once for concurrent callers sharing a store, and marks a refused refresh needs_reauth', async () => {
    const { service, linked, store, config } = setup();
    const other = createLinkedAccounts(store, config.accounts!, { publish: async (e) => void events.push(e) });
    sim.setAccessTokenTtl(60); // inside the 5 min margin: due for a refresh at once
    const { authorizeUrl } = await service.start({ appUserId: 'u-4', returnUrl: RETURN });
    const { location } = await consent(service, authorizeUrl);
    await service.confirm({ code: new URL(location).searchParams.get(CONFIRMATION_PARAM)!, appUserId: 'u-4' });
    sim.setAccessTokenTtl(3600);
    const before = sim.stats().refreshes;
    const [a, b] = await Promise.all([linked.accessToken('u-4'), other.accessToken('u-4')]);
    expect(sim.stats().refreshes).toBe(before + 1);
    expect(a).toBe(b);
    expect(sim.isAccessTokenValid(a!)).toBe(true);
    // The user removes the app at Zoom: the refresh token dies, the next refresh is refused.
    await sim.deauthorize(zoomUser.id);
    sim.setAccessTokenTtl(60);
    const link = (await store.getLink('u-4'))!;
    const tokens = linked.openTokens(link)!;
    await store.saveLink({
      ...link,
      tokens: linked.sealTokens('u-4', { ...tokens, expiresAt: Date.now() }),
      tokenVersion: link.tokenVersion + 1,
    });
    expect(await linked.accessToken('u-4')).toBeUndefined();
    expect(await store.getLink('u-4')).toMatchObject({ status: 'needs_reauth' });
    expect((await store.getLink('u-4'))?.tokens).toBeUndefined();
    expect(events.at(-1)).toMatchObject({ appUserId: 'u-4', status: 'needs_reauth' });
    sim.setAccessTokenTtl(3600);
  });

  it('never logs a state, code, verifier or token', () => {
    const text = logLines.join('');
    expect(text).toContain('account linked');
    expect(text).not.toMatch(/state=|code_verifier|access_token|refresh_token|eyJ/);
  });
});

describe('AccountsService.deauthorized', () => {
  it('revokes a link and deletes its tokens, but ignores a deauthorization older than the link', async () => {
    const { service, store } = setup();
    const user = sim.addUser();
    sim.consentAs(user.id);
    const { authorizeUrl } = await service.start({ appUserId: 'u-5', returnUrl: RETURN });
    const { location } = await consent(service, authorizeUrl);
    await service.confirm({ code: new URL(location).searchParams.get(CONFIRMATION_PARAM)!, appUserId: 'u-5' });
    sim.consentAs(zoomUser.id);
    expect(await service.deauthorized(user.id, user.accountId, '2020-01-01T00:00:00.000Z')).toBeUndefined();
    expect(await store.getLink('u-5')).toMatchObject({ status: 'active' });
    const event = await service.deauthorized(user.id, user.accountId, new Date(Date.now() + 1000).toISOString());
    expect(event).toMatchObject({
      zoomUserId: user.id,
      accountId: user.accountId,
      appUserId: 'u-5',
      status: 'revoked',
    });
    expect(await store.getLink('u-5')).toMatchObject({ status: 'revoked' });
    expect((await store.getLink('u-5'))?.tokens).toBeUndefined();
    expect(await store.appUserFor({ zoomUserId: user.id })).toBeNull();
    expect(await service.deauthorized(user.id, user.accountId, new Date().toISOString())).toBeUndefined();
  });
});

describe('key rotation', () => {
  it('reads a link sealed with the previous key and re-seals it with the current one on the next refresh', async () => {
    const k1 = { id: 'k1', key: randomBytes(32) };
    const k2 = { id: 'k2', key: randomBytes(32) };
    const { config } = setup();
    const store = new MemoryAccountsStore();
    const before = createLinkedAccounts(store, { ...config.accounts!, encryptionKey: k1, previousKeys: [] });
    const user = sim.addUser();
    sim.consentAs(user.id);
    sim.setAccessTokenTtl(60); // due for a refresh
    const { verifier, challenge } = pkcePair();
    const redirectUri = 'https://pipeline.example.com/oauth/zoom/callback';
    const atZoom = await fetch(before.oauth.authorizeUrl({ state: 's', codeChallenge: challenge, redirectUri }), {
      redirect: 'manual',
    });
    const tokens = await before.oauth.exchangeCode({
      code: new URL(atZoom.headers.get('location')!).searchParams.get('code')!,
      codeVerifier: verifier,
      redirectUri,
    });
    sim.setAccessTokenTtl(3600);
    const now = new Date().toISOString();
    await store.saveLink({
      appUserId: 'u-6',
      zoomUserId: user.id,
      accountId: user.accountId,
      level: 'user',
      status: 'active',
      tokens: before.sealTokens('u-6', tokens),
      tokenVersion: 1,
      createdAt: now,
      updatedAt: now,
    });
    expect((await store.getLink('u-6'))!.tokens!.startsWith('zpe1.k1.')).toBe(true);

    const after = createLinkedAccounts(store, { ...config.accounts!, encryptionKey: k2, previousKeys: [k1] });
    const token = await after.accessToken('u-6');
    expect(sim.isAccessTokenValid(token!)).toBe(true);
    expect((await store.getLink('u-6'))!.tokens!.startsWith('zpe1.k2.')).toBe(true);
    sim.consentAs(zoomUser.id);
  });
});
