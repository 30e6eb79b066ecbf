import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fakeDownloadToken, zoomOpaqueId } from './payload-builder';
import type { DeliveryOutcome, ZoomWebhookSender } from './webhook-sender';

/**
 * Zoom's user-level OAuth, played for tests (docs/ZOOM-FACTS.md, "OAuth for user-level apps"):
 *   GET  /oauth/authorize   auto-consent as a chosen simulated user, 302 to redirect_uri?code&state
 *   POST /oauth/token       authorization_code (checks client, redirect_uri, PKCE) and refresh_token (rotates)
 *   POST /oauth/revoke      revokes the grant of a token
 *   GET  /v2/users/me       the token's user
 * and `deauthorize(user, sender)`: the grant revoked and `app_deauthorized` delivered by the webhook sender.
 * Loopback only, Node built-ins only.
 */

export interface SimZoomUser {
  id: string;
  accountId: string;
  email: string;
}

export interface OAuthServerOptions {
  clientId?: string;
  clientSecret?: string;
  /** Redirect URIs registered for the app; when set, any other redirect_uri is refused. */
  redirectUris?: readonly string[];
  /** `expires_in` of access tokens; default 3600 (Zoom: one hour). */
  accessTokenTtlSec?: number;
  /** Authorization code lifetime; default 5 min. */
  codeTtlMs?: number;
  host?: string;
  port?: number;
  now?: () => number;
}

export interface OAuthServerStats {
  authorizations: number;
  codeExchanges: number;
  /** Every refresh_token grant received, successful or not. */
  refreshes: number;
  refreshFailures: number;
  tokenFailures: number;
  usersMe: number;
  revocations: number;
}

export interface OAuthServer {
  readonly url: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** A simulated Zoom user (random ids by default); the first added one consents unless told otherwise. */
  addUser(user?: Partial<SimZoomUser>): SimZoomUser;
  /** Who consents on the next authorizations (a `zoom_sim_user` query parameter overrides it per request). */
  consentAs(zoomUserId: string): void;
  setAccessTokenTtl(sec: number): void;
  /** For the download server (`acceptAccessToken`): a live access token of any user. */
  isAccessTokenValid(token: string): boolean;
  /** Live grants (refresh tokens) of a user. */
  grantsOf(zoomUserId: string): number;
  /** Every access and refresh token issued so far (tests look for them where they must not be: logs, raw stores). */
  issuedTokens(): string[];
  /** Expires every access token now (refresh tokens stay valid). */
  expireAccessTokens(): void;
  /** The user uninstalls the app: grants revoked; with a sender, `app_deauthorized` is delivered like Zoom. */
  deauthorize(
    zoomUserId: string,
    sender?: ZoomWebhookSender,
  ): Promise<{ payload: AppDeauthorizedEvent; outcome?: DeliveryOutcome }>;
  stats(): OAuthServerStats;
  close(): Promise<void>;
}

export interface AppDeauthorizedEvent {
  event: 'app_deauthorized';
  payload: { account_id: string; user_id: string; signature: string; deauthorization_time: string; client_id: string };
  event_ts: number;
}

interface Grant {
  userId: string;
  accessToken: string;
  accessExpiresAt: number;
  refreshToken: string;
}

interface PendingCode {
  userId: string;
  redirectUri: string;
  challenge?: string;
  method: string;
  expiresAt: number;
}

class SimOAuthServer implements OAuthServer {
  url = '';
  readonly clientId: string;
  readonly clientSecret: string;
  private readonly server: Server;
  private readonly users = new Map<string, SimZoomUser>();
  private readonly codes = new Map<string, PendingCode>();
  private readonly byAccess = new Map<string, Grant>();
  private readonly byRefresh = new Map<string, Grant>();
  private consenting: string | undefined;
  private ttlSec: number;
  private readonly now: () => number;
  private counters: OAuthServerStats = emptyStats();
  private readonly issued: string[] = [];

  constructor(private readonly opts: OAuthServerOptions) {
    this.clientId = opts.clientId ?? `sim${randomBytes(8).toString('hex')}`;
    this.clientSecret = opts.clientSecret ?? randomBytes(16).toString('hex');
    this.ttlSec = opts.accessTokenTtlSec ?? 3600;
    this.now = opts.now ?? Date.now;
    this.server = createServer((req, res) => {
      this.handle(req, res).catch(() => {
        if (!res.headersSent) res.writeHead(500).end();
      });
    });
  }

  async listen(): Promise<void> {
    const host = this.opts.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port ?? 0, host, () => resolve());
    });
    this.url = `http://${host}:${(this.server.address() as AddressInfo).port}`;
  }

  addUser(user: Partial<SimZoomUser> = {}): SimZoomUser {
    const u: SimZoomUser = {
      id: user.id ?? zoomOpaqueId(),
      accountId: user.accountId ?? zoomOpaqueId(),
      email: user.email ?? `user-${randomBytes(3).toString('hex')}@example.com`,
    };
    this.users.set(u.id, u);
    this.consenting ??= u.id;
    return u;
  }

  consentAs(zoomUserId: string): void {
    this.consenting = zoomUserId;
  }

  setAccessTokenTtl(sec: number): void {
    this.ttlSec = sec;
  }

  isAccessTokenValid(token: string): boolean {
    const g = this.byAccess.get(token);
    return g !== undefined && g.accessExpiresAt > this.now();
  }

  grantsOf(zoomUserId: string): number {
    return [...this.byRefresh.values()].filter((g) => g.userId === zoomUserId).length;
  }

  issuedTokens(): string[] {
    return [...this.issued];
  }

  expireAccessTokens(): void {
    for (const g of this.byAccess.values()) g.accessExpiresAt = 0;
  }

  async deauthorize(
    zoomUserId: string,
    sender?: ZoomWebhookSender,
  ): Promise<{ payload: AppDeauthorizedEvent; outcome?: DeliveryOutcome }> {
    const user = this.users.get(zoomUserId);
    if (user === undefined) throw new Error(`unknown simulated user ${zoomUserId}`);
    for (const g of [...this.byRefresh.values()]) if (g.userId === zoomUserId) this.revokeGrant(g);
    const now = this.now();
    const payload: AppDeauthorizedEvent = {
      event: 'app_deauthorized',
      payload: {
        account_id: user.accountId,
        user_id: user.id,
        signature: randomBytes(32).toString('hex'),
        deauthorization_time: new Date(now).toISOString(),
        client_id: this.clientId,
      },
      event_ts: now,
    };
    return { payload, outcome: sender ? await sender.send(payload) : undefined };
  }

  stats(): OAuthServerStats {
    return { ...this.counters };
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    if (req.method === 'GET' && url.pathname === '/oauth/authorize') return this.authorize(url, res);
    if (req.method === 'POST' && url.pathname === '/oauth/token') return this.token(req, url, res);
    if (req.method === 'POST' && url.pathname === '/oauth/revoke') return this.revoke(req, url, res);
    if (req.method === 'GET' && url.pathname === '/v2/users/me') return this.me(req, res);
    json(res, 404, { code: 404, message: 'Not found' });
  }

  private authorize(url: URL, res: ServerResponse): void {
    const q = url.searchParams;
    const redirectUri = q.get('redirect_uri') ?? '';
    if (q.get('response_type') !== 'code' || q.get('client_id') !== this.clientId)
      return json(res, 400, { reason: 'Invalid client_id or response_type', error: 'invalid_request' });
    if (redirectUri === '' || (this.opts.redirectUris && !this.opts.redirectUris.includes(redirectUri)))
      return json(res, 400, { reason: 'Invalid redirect uri', error: 'invalid_request' });
    const userId = q.get('zoom_sim_user') ?? this.consenting;
    if (userId === undefined || !this.users.has(userId))
      return json(res, 400, { reason: 'no simulated user to consent', error: 'access_denied' });
    this.counters.authorizations++;
    const code = randomBytes(24).toString('base64url');
    const challenge = q.get('code_challenge') ?? undefined;
    this.codes.set(code, {
      userId,
      redirectUri,
      challenge,
      method: q.get('code_challenge_method') ?? 'plain',
      expiresAt: this.now() + (this.opts.codeTtlMs ?? 5 * 60_000),
    });
    const target = new URL(redirectUri);
    target.searchParams.set('code', code);
    const state = q.get('state');
    if (state !== null) target.searchParams.set('state', state);
    res.writeHead(302, { location: target.toString(), 'content-length': 0 }).end();
  }

  private async token(req: IncomingMessage, url: URL, res: ServerResponse): Promise<void> {
    const params = await formParams(req, url);
    const grantType = params.get('grant_type');
    if (grantType === 'refresh_token') this.counters.refreshes++;
    const fail = (status: number, reason: string, error: string): void => {
      this.counters.tokenFailures++;
      if (grantType === 'refresh_token') this.counters.refreshFailures++;
      json(res, status, { reason, error });
    };
    if (!this.clientAuthenticated(req)) return fail(401, 'Invalid client_id or client_secret', 'invalid_client');
    if (grantType === 'authorization_code') {
      const code = params.get('code') ?? '';
      const pending = this.codes.get(code);
      this.codes.delete(code); // single use, even when the rest fails
      if (pending === undefined || pending.expiresAt <= this.now())
        return fail(400, 'Invalid authorization code', 'invalid_grant');
      if (params.get('redirect_uri') !== pending.redirectUri)
        return fail(400, 'Redirect URI mismatch.', 'invalid_grant');
      if (pending.challenge !== undefined) {
        const verifier = params.get('code_verifier') ?? '';
        const computed =
          pending.method === 'S256' ? createHash('sha256').update(verifier).digest('base64url') : verifier;
        if (!safeEqual(computed, pending.challenge)) return fail(400, 'Invalid code verifier', 'invalid_grant');
      }
      this.counters.codeExchanges++;
      return json(res, 200, this.issue(pending.userId));
    }
    if (grantType === 'refresh_token') {
      const grant = this.byRefresh.get(params.get('refresh_token') ?? '');
      if (grant === undefined) return fail(400, 'Invalid Token!', 'invalid_grant');
      // Zoom rotates: the old refresh token stops working once a new one is issued.
      this.byRefresh.delete(grant.refreshToken);
      return json(res, 200, this.issue(grant.userId));
    }
    return fail(400, 'Unsupported grant type', 'unsupported_grant_type');
  }

  private async revoke(req: IncomingMessage, url: URL, res: ServerResponse): Promise<void> {
    const params = await formParams(req, url);
    if (!this.clientAuthenticated(req))
      return json(res, 401, { reason: 'Invalid client_id or client_secret', error: 'invalid_client' });
    const token = params.get('token') ?? '';
    const grant = this.byAccess.get(token) ?? this.byRefresh.get(token);
    if (grant === undefined) return json(res, 400, { reason: 'Invalid Token!', error: 'invalid_request' });
    this.counters.revocations++;
    this.revokeGrant(grant);
    json(res, 200, { status: 'success' });
  }

  private me(req: IncomingMessage, res: ServerResponse): void {
    this.counters.usersMe++;
    const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    const grant = m ? this.byAccess.get(m[1]!) : undefined;
    if (grant === undefined || grant.accessExpiresAt <= this.now())
      return json(res, 401, { code: 124, message: 'Invalid access token.' });
    const u = this.users.get(grant.userId)!;
    json(res, 200, {
      id: u.id,
      first_name: 'Sim',
      last_name: 'User',
      display_name: 'Sim User',
      email: u.email,
      type: 1,
      account_id: u.accountId,
      status: 'active',
    });
  }

  private issue(userId: string): Record<string, unknown> {
    const grant: Grant = {
      userId,
      accessToken: fakeDownloadToken(),
      accessExpiresAt: this.now() + this.ttlSec * 1000,
      refreshToken: fakeDownloadToken(),
    };
    this.byAccess.set(grant.accessToken, grant);
    this.byRefresh.set(grant.refreshToken, grant);
    this.issued.push(grant.accessToken, grant.refreshToken);
    return {
      access_token: grant.accessToken,
      token_type: 'bearer',
      refresh_token: grant.refreshToken,
      expires_in: this.ttlSec,
      scope: 'user:read:user cloud_recording:read:recording',
    };
  }

  private revokeGrant(grant: Grant): void {
    // Revoking removes the app's authorization for the user: every token of that user goes.
    for (const [t, g] of [...this.byAccess]) if (g.userId === grant.userId) this.byAccess.delete(t);
    for (const [t, g] of [...this.byRefresh]) if (g.userId === grant.userId) this.byRefresh.delete(t);
  }

  private clientAuthenticated(req: IncomingMessage): boolean {
    const auth = /^Basic\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    const decoded = auth === null ? '' : Buffer.from(auth[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return (
      colon > 0 &&
      safeEqual(decoded.slice(0, colon), this.clientId) &&
      safeEqual(decoded.slice(colon + 1), this.clientSecret)
    );
  }
}

function emptyStats(): OAuthServerStats {
  return {
    authorizations: 0,
    codeExchanges: 0,
    refreshes: 0,
    refreshFailures: 0,
    tokenFailures: 0,
    usersMe: 0,
    revocations: 0,
  };
}

/** Query parameters plus an `application/x-www-form-urlencoded` body (Zoom takes either). */
async function formParams(req: IncomingMessage, url: URL): Promise<URLSearchParams> {
  const params = new URLSearchParams(url.search);
  const parts: Buffer[] = [];
  for await (const chunk of req) parts.push(chunk as Buffer);
  if (/application\/x-www-form-urlencoded/i.test(req.headers['content-type'] ?? '')) {
    for (const [k, v] of new URLSearchParams(Buffer.concat(parts).toString('utf8')))
      if (!params.has(k)) params.set(k, v);
  }
  return params;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res
    .writeHead(status, { 'content-type': 'application/json;charset=UTF-8', 'content-length': Buffer.byteLength(text) })
    .end(text);
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export async function startOAuthServer(opts: OAuthServerOptions = {}): Promise<OAuthServer> {
  const s = new SimOAuthServer(opts);
  await s.listen();
  return s;
}
